// The fleet page: GET /v1/vms with an admin join token, as a table with filters, refreshed every 10 s.
// Every value from the service goes into the page as text (textContent, attributes set one by one), never as HTML.
// The token is read from the address's fragment (#token=..., which browsers never send) or asked for, kept in this
// tab's sessionStorage, and sent only in the Authorization header of GET /v1/vms.
'use strict';

(function () {
  const REFRESH_MS = 10000;
  const TOKEN_KEY = 'istio-vm-fleet-token';
  const FILTERS = ['ns', 'group', 'health', 'q'];

  const state = { token: null, data: null, timer: null, loading: false,
    filters: { ns: '', group: '', health: '', q: '' } };
  const $ = (id) => document.getElementById(id);

  /** kubectl's ages (k8s.io/apimachinery HumanDuration), as the vms command prints them. */
  function age(ms) {
    const seconds = Math.floor(ms / 1000);
    if (seconds < 0) return '0s';
    if (seconds < 120) return seconds + 's';
    const minutes = Math.floor(seconds / 60);
    if (minutes < 10) return seconds % 60 === 0 ? minutes + 'm' : minutes + 'm' + (seconds % 60) + 's';
    if (minutes < 180) return minutes + 'm';
    const hours = Math.floor(minutes / 60);
    if (hours < 8) return minutes % 60 === 0 ? hours + 'h' : hours + 'h' + (minutes % 60) + 'm';
    if (hours < 48) return hours + 'h';
    if (hours < 192) return hours % 24 === 0 ? Math.floor(hours / 24) + 'd'
      : Math.floor(hours / 24) + 'd' + (hours % 24) + 'h';
    if (hours < 24 * 365 * 2) return Math.floor(hours / 24) + 'd';
    const years = Math.floor(hours / 24 / 365);
    const days = Math.floor(hours / 24) % 365;
    return hours < 24 * 365 * 8 && days !== 0 ? years + 'y' + days + 'd' : years + 'y';
  }

  /** The service's now: relative times follow its clock, not this browser's. */
  function now() {
    const t = state.data && Date.parse(state.data.now);
    return Number.isFinite(t) ? t : Date.now();
  }

  function ago(iso) {
    const t = Date.parse(iso);
    return Number.isFinite(t) ? age(now() - t) + ' ago' : '-';
  }

  function until(iso) {
    const t = Date.parse(iso);
    if (!Number.isFinite(t)) return '-';
    return t > now() ? 'in ' + age(t - now()) : 'expired';
  }

  function el(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }

  function timeEl(iso, text) {
    const t = el('time', text);
    if (typeof iso === 'string') {
      t.setAttribute('datetime', iso);
      t.title = iso;
    }
    return t;
  }

  /** Healthy's status, or Unknown without it (the directory mode's rows have none). */
  function healthOf(vm) {
    return vm.healthy === 'True' || vm.healthy === 'False' ? vm.healthy : 'Unknown';
  }

  function healthText(vm) {
    if (vm.healthy == null) return vm.status || '-';
    return vm.healthReason ? vm.healthy + '/' + vm.healthReason : vm.healthy;
  }

  function errorOf(vm) {
    if (typeof vm.error === 'string') return vm.error;
    return Array.isArray(vm.reasons) && vm.reasons.length ? vm.reasons.join('; ') : '';
  }

  function matches(vm) {
    const f = state.filters;
    if (f.ns && vm.namespace !== f.ns) return false;
    if (f.group && vm.group !== f.group) return false;
    if (f.health && healthOf(vm) !== f.health) return false;
    if (f.q) {
      const hay = [vm.namespace, vm.group, vm.machineId, vm.entry, vm.hostname, vm.address, vm.healthReason,
        vm.agentReason, vm.status, vm.sidecar, vm.bundle, errorOf(vm)].filter((v) => typeof v === 'string')
        .join('\n').toLowerCase();
      if (!hay.includes(f.q.toLowerCase())) return false;
    }
    return true;
  }

  /** The select's options: "all", then each value seen, keeping the one chosen even when no VM has it now. */
  function fillSelect(select, values, chosen) {
    const options = [el('option', 'all')];
    options[0].value = '';
    const all = new Set(values.filter((v) => typeof v === 'string' && v));
    if (chosen) all.add(chosen);
    for (const v of [...all].sort()) {
      const o = el('option', v);
      o.value = v;
      options.push(o);
    }
    select.replaceChildren(...options);
    select.value = chosen || '';
  }

  function row(vm) {
    const tr = document.createElement('tr');
    if (typeof vm.machineId === 'string') tr.dataset.machine = vm.machineId;
    tr.dataset.health = healthOf(vm);
    tr.append(el('td', vm.namespace || '-'), el('td', vm.group || '-'));
    const machine = el('td', typeof vm.machineId === 'string' ? vm.machineId.slice(0, 12) : '-', 'mono');
    if (vm.machineId) machine.title = (vm.entry ? vm.entry + ' · ' : '') + vm.machineId;
    tr.append(machine, el('td', vm.address || '-', 'mono'));
    const health = el('td');
    health.append(el('span', healthText(vm), 'health ' + healthOf(vm).toLowerCase()));
    tr.append(health, el('td', vm.agentReason || '-'));
    const restarts = typeof vm.restarts === 'number' && vm.restarts > 0 ? ' (' + vm.restarts + ' restarts)' : '';
    tr.append(el('td', (vm.sidecar || '-') + restarts));
    const token = el('td');
    token.append(timeEl(vm.tokenExpires, until(vm.tokenExpires)));
    const seen = el('td');
    seen.append(timeEl(vm.lastSeen, ago(vm.lastSeen)));
    tr.append(token, seen);
    const error = errorOf(vm) ? el('td', errorOf(vm), 'error') : el('td', '-', 'empty');
    if (vm.errorAt) error.title = 'since ' + vm.errorAt;
    tr.append(error);
    const history = el('td');
    if (Array.isArray(vm.history) && vm.history.length) {
      const ol = el('ol', null, 'history');
      for (const h of vm.history.slice().reverse()) { // newest first
        const li = el('li');
        li.append(el('span', h && h.reason ? h.reason : '?'), document.createTextNode(' '),
          timeEl(h && h.at, h && h.at ? ago(h.at) : ''));
        ol.append(li);
      }
      history.append(ol);
    } else {
      history.append(el('span', '-', 'empty'));
    }
    tr.append(history);
    return tr;
  }

  function render() {
    const vms = state.data && Array.isArray(state.data.vms) ? state.data.vms : [];
    fillSelect($('f-ns'), vms.map((v) => v.namespace), state.filters.ns);
    fillSelect($('f-group'), vms.filter((v) => !state.filters.ns || v.namespace === state.filters.ns)
      .map((v) => v.group), state.filters.group);
    $('f-health').value = state.filters.health;
    $('f-q').value = state.filters.q;

    const problems = [];
    if (state.data) {
      if (typeof state.data.fleetProblem === 'string') problems.push(state.data.fleetProblem);
      for (const p of state.data.bundleProblems || []) problems.push('bundle ' + p.group + ': ' + p.problem);
      for (const p of state.data.entryProblems || []) problems.push('entry ' + p.entry + ': ' + p.problem);
    }
    $('problems').replaceChildren(...problems.map((p) => el('li', p)));

    const shown = vms.filter(matches);
    const tbody = $('vms').tBodies[0];
    if (shown.length) {
      tbody.replaceChildren(...shown.map(row));
    } else {
      const td = el('td', vms.length ? 'No VM matches the filters.' : 'No VM is registered.', 'empty');
      td.colSpan = 11;
      const tr = el('tr');
      tr.append(td);
      tbody.replaceChildren(tr);
    }
    $('summary').textContent = shown.length + ' of ' + vms.length + (vms.length === 1 ? ' VM' : ' VMs');
  }

  /** The address's fragment holds the filters, so that a view can be linked to; never the token. */
  function writeFragment() {
    const p = new URLSearchParams();
    for (const k of FILTERS) if (state.filters[k]) p.set(k, state.filters[k]);
    const fragment = p.toString();
    history.replaceState(null, '', location.pathname + location.search + (fragment ? '#' + fragment : ''));
    $('view-link').href = location.href;
  }

  function readFragment() {
    const p = new URLSearchParams(location.hash.slice(1));
    const token = p.get('token');
    if (token) {
      state.token = token;
      sessionStorage.setItem(TOKEN_KEY, token);
    }
    for (const k of FILTERS) state.filters[k] = p.get(k) || '';
    if (!['', 'True', 'False', 'Unknown'].includes(state.filters.health)) state.filters.health = '';
    writeFragment(); // the token leaves the address bar (and so the history) at once
  }

  function status(text, isError) {
    $('status').textContent = text;
    $('status').classList.toggle('error', !!isError);
  }

  function askForToken(why, isError) {
    state.token = null;
    state.data = null;
    sessionStorage.removeItem(TOKEN_KEY);
    clearInterval(state.timer);
    state.timer = null;
    $('fleet').hidden = true;
    $('token-form').hidden = false;
    status(why, isError);
    $('token').focus();
  }

  async function refresh() {
    if (!state.token || state.loading) return;
    state.loading = true;
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), 8000);
    try {
      const r = await fetch('/v1/vms', { headers: { Authorization: 'Bearer ' + state.token }, cache: 'no-store',
        credentials: 'omit', referrerPolicy: 'no-referrer', signal: abort.signal });
      const body = await r.json().catch(() => null);
      if (r.status === 401 || r.status === 403) {
        askForToken('The service refused the token (HTTP ' + r.status + ')'
          + (body && typeof body.error === 'string' ? ': ' + body.error : '') + '.', true);
        return;
      }
      if (!r.ok || !body) {
        status('The service answered HTTP ' + r.status + (body && typeof body.error === 'string' ? ': '
          + body.error : '') + '; trying again in 10 s.', true);
        return;
      }
      state.data = body;
      $('token-form').hidden = true;
      $('fleet').hidden = false;
      render();
      status('Updated ' + new Date(now()).toISOString().slice(11, 19) + ' UTC (the service\'s clock); '
        + 'refreshes every 10 s.');
    } catch (e) {
      status('Cannot reach the service (' + (e && e.name === 'AbortError' ? 'no answer in 8 s' : e) + '); trying '
        + 'again in 10 s.', true);
    } finally {
      clearTimeout(timeout);
      state.loading = false;
    }
  }

  function start() {
    $('token-form').hidden = true;
    clearInterval(state.timer);
    state.timer = setInterval(refresh, REFRESH_MS);
    return refresh();
  }

  function onFilter(key, value) {
    state.filters[key] = value;
    if (key === 'ns') state.filters.group = '';
    writeFragment();
    render();
  }

  function init() {
    state.token = sessionStorage.getItem(TOKEN_KEY);
    readFragment();
    $('f-ns').addEventListener('change', (e) => onFilter('ns', e.target.value));
    $('f-group').addEventListener('change', (e) => onFilter('group', e.target.value));
    $('f-health').addEventListener('change', (e) => onFilter('health', e.target.value));
    $('f-q').addEventListener('input', (e) => onFilter('q', e.target.value.trim()));
    $('forget').addEventListener('click', () => askForToken('The token is forgotten.', false));
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault(); // never a form submission: the token would travel in the address
      const token = $('token').value.trim();
      $('token').value = '';
      if (!token) return;
      state.token = token;
      sessionStorage.setItem(TOKEN_KEY, token);
      status('Loading…');
      start();
    });
    window.addEventListener('hashchange', () => {
      readFragment();
      if (state.data) render();
      if (state.token && !state.timer) start();
    });
    if (state.token) {
      start();
    } else {
      askForToken('An admin join token is needed to list the VMs.', false);
    }
  }

  init();
}());
