package io.istiovmagent.reliability;

import static io.istiovmagent.testing.TestBundles.NOW;

import io.istiovmagent.testing.TarBuilder;
import io.istiovmagent.testing.TestBundles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Writes the generated part of the hostile corpus (src/test/resources/hostile): the tokens, certificates and
 * archives that cannot be written by hand. The text cases are written by hand; index.tsv lists them all. Run once
 * when adding a case, from the agent module's directory after {@code mvn -q install -DskipTests -Ddeb.skip} at the
 * top, and commit the result (certificates get fresh keys on each run):
 *
 * <pre>cd agent &amp;&amp; java -cp "target/test-classes:target/classes:$(mvn -q -o dependency:build-classpath
 *   -Dmdep.includeScope=test -Dmdep.outputFile=/dev/stdout)" io.istiovmagent.reliability.HostileCorpusWriter</pre>
 */
public final class HostileCorpusWriter {
  private static final String SUB = "system:serviceaccount:vm-namespace:vm-sa";
  private static final long T = NOW.getEpochSecond();
  private static final long EXP = 4102444800L; // 2100-01-01, like the istioctl sample
  private static final String RS256 = "{\"alg\":\"RS256\",\"kid\":\"fixture\"}";
  private static final String[] FILES = {"cluster.env", "mesh.yaml", "root-cert.pem", "istio-token", "hosts"};

  private final Path root;

  private HostileCorpusWriter(Path root) {
    this.root = root;
  }

  public static void main(String[] args) throws Exception {
    HostileCorpusWriter w = new HostileCorpusWriter(Path.of(args.length > 0 ? args[0] : "src/test/resources/hostile"));
    w.tokens();
    w.certificates();
    w.archives();
  }

  // --- istio-token ---

  private void tokens() throws IOException {
    String aud = "[\"istio-ca\"]";
    token("alg-none", jwt("{\"alg\":\"none\"}", claims(SUB, aud, T, EXP)));
    token("alg-none-mixed-case", jwt("{\"alg\":\"nOnE\"}", claims(SUB, aud, T, EXP)));
    token("alg-none-padded", jwt("{\"alg\":\" none \"}", claims(SUB, aud, T, EXP)));
    token("alg-missing", jwt("{\"typ\":\"JWT\"}", claims(SUB, aud, T, EXP)));
    token("wrong-audience", jwt(RS256, claims(SUB, "[\"kubernetes.default.svc\"]", T, EXP)));
    token("no-audience", jwt(RS256, "{\"exp\":" + EXP + ",\"sub\":\"" + SUB + "\"}"));
    token("audience-not-strings", jwt(RS256, claims(SUB, "[1,{\"istio-ca\":true}]", T, EXP)));
    token("expired", jwt(RS256, claims(SUB, aud, T - 7200, T - 3600)));
    token("expires-this-second", jwt(RS256, claims(SUB, aud, T - 3600, T)));
    token("exp-missing", jwt(RS256, "{\"aud\":" + aud + ",\"sub\":\"" + SUB + "\"}"));
    token("exp-a-string", jwt(RS256, "{\"aud\":" + aud + ",\"exp\":\"" + EXP + "\",\"sub\":\"" + SUB + "\"}"));
    token("exp-beyond-year-9999", jwt(RS256, "{\"aud\":" + aud + ",\"exp\":1e300,\"sub\":\"" + SUB + "\"}"));
    token("exp-negative", jwt(RS256, "{\"aud\":" + aud + ",\"exp\":-1,\"sub\":\"" + SUB + "\"}"));
    token("nbf-in-two-hours", jwt(RS256, claims(SUB, aud, T + 7200, EXP)));
    token("nbf-malformed", jwt(RS256, "{\"aud\":" + aud + ",\"exp\":" + EXP + ",\"nbf\":\"now\",\"sub\":\"" + SUB + "\"}"));
    token("iat-malformed", jwt(RS256, "{\"aud\":" + aud + ",\"exp\":" + EXP + ",\"iat\":{},\"sub\":\"" + SUB + "\"}"));
    token("wrong-namespace", jwt(RS256, claims("system:serviceaccount:istio-system:vm-sa", aud, T, EXP)));
    token("wrong-service-account", jwt(RS256, claims("system:serviceaccount:vm-namespace:istiod", aud, T, EXP)));
    token("subject-with-suffix", jwt(RS256, claims(SUB + "-admin", aud, T, EXP)));
    token("subject-homoglyph", jwt(RS256, claims("system:serviceaccount:vm-namespace:vm-\u0455a", aud, T, EXP)));
    token("subject-forges-a-log-line", jwt(RS256, claims("x\\nhosts: ok: nothing wrong here\\r", aud, T, EXP)));
    token("subject-missing", jwt(RS256, "{\"aud\":" + aud + ",\"exp\":" + EXP + "}"));
    token("audience-list-200k", jwt(RS256, claims(SUB, "[" + "\"kubernetes\",".repeat(15_000) + "\"x\"]", T, EXP)));
    token("claim-string-100k", jwt(RS256, "{\"aud\":" + aud + ",\"exp\":" + EXP + ",\"sub\":\"" + SUB
        + "\",\"x\":\"" + "a".repeat(100_000) + "\"}"));
    token("claims-nested-1000-deep", jwt(RS256, "{\"aud\":" + aud + ",\"exp\":" + EXP + ",\"sub\":\"" + SUB
        + "\",\"x\":" + "[".repeat(1000) + "]".repeat(1000) + "}"));
    token("number-1000-digits", jwt(RS256, "{\"aud\":" + aud + ",\"exp\":" + "9".repeat(1200) + ",\"sub\":\"" + SUB + "\"}"));
    token("token-over-256k", jwt(RS256, claims(SUB, aud, T, EXP)).strip() + "A".repeat(270_000));
    token("malformed-base64", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0!.c2ln\n");
    token("base64-impossible-length", "eyJhbGciOiJSUzI1NiJ9A.eyJzdWIiOiJ4In0.c2ln\n");
    token("two-parts", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0\n");
    token("jwe-five-parts", "eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn\n");
    token("json-serialization", "{\"payload\":\"eyJzdWIiOiJ4In0\",\"signatures\":[]}\n");
    token("payload-not-json", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln\n");
    token("payload-json-array", jwt(RS256, "[\"istio-ca\"]"));
    token("header-not-an-object", jwt("\"RS256\"", claims(SUB, aud, T, EXP)));
    token("empty", "");
    token("nul-byte", jwt(RS256, claims(SUB, aud, T, EXP)).replace("\n", "") + "\0\n");
  }

  private void token(String name, String token) throws IOException {
    write("istio-token/" + name, token.getBytes(StandardCharsets.UTF_8));
  }

  private static String jwt(String header, String claims) {
    Base64.Encoder enc = Base64.getUrlEncoder().withoutPadding();
    return enc.encodeToString(header.getBytes(StandardCharsets.UTF_8)) + "."
        + enc.encodeToString(claims.getBytes(StandardCharsets.UTF_8)) + "."
        + enc.encodeToString("not-a-real-signature".getBytes(StandardCharsets.UTF_8)) + "\n";
  }

  private static String claims(String sub, String audJson, long nbf, long exp) {
    return "{\"aud\":" + audJson + ",\"exp\":" + exp + ",\"iat\":" + nbf + ",\"nbf\":" + nbf + ",\"sub\":\"" + sub + "\"}";
  }

  // --- root-cert.pem ---

  private void certificates() throws Exception {
    String ca = TestBundles.ca(NOW.minusSeconds(86_400), NOW.plusSeconds(86_400L * 3650)).certificatePem();
    cert("leaf-not-a-ca", TestBundles.leaf().certificatePem());
    cert("ca-then-leaf", ca + TestBundles.leaf().certificatePem());
    cert("ca-flag-false", pem(selfSigned(name("not a ca"), false)));
    cert("expired-ca", TestBundles.ca(NOW.minusSeconds(86_400L * 400), NOW.minusSeconds(86_400)).certificatePem());
    cert("ca-not-yet-valid", TestBundles.ca(NOW.plusSeconds(86_400), NOW.plusSeconds(86_400L * 400)).certificatePem());
    cert("subject-forges-a-log-line", pem(selfSigned(name("x\nhosts: ok: nothing wrong here"), false)));
    cert("garbage-base64", "-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n");
    cert("garbage-der", "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder().encodeToString(
        "this is no ASN.1 at all".repeat(8).getBytes(StandardCharsets.US_ASCII)) + "\n-----END CERTIFICATE-----\n");
    cert("truncated-der", truncatedDer(ca));
    cert("public-key-not-certificate", "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder().encodeToString(
        keys().getPublic().getEncoded()) + "\n-----END PUBLIC KEY-----\n");
    cert("unterminated-pem", ca.substring(0, ca.indexOf("-----END")));
    cert("no-pem-at-all", "this is the mesh root certificate, trust me\n");
    cert("empty", "");
    cert("private-key-beside-ca", ca + TestBundles.leaf().privateKeyPkcs8Pem());
    write("root-cert.pem/der-not-pem", Base64.getMimeDecoder().decode(ca.replaceAll("-----[A-Z ]+-----", "")));
  }

  private void cert(String name, String pem) throws IOException {
    write("root-cert.pem/" + name, pem.getBytes(StandardCharsets.UTF_8));
  }

  private static String truncatedDer(String pem) {
    byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
    return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder().encodeToString(Arrays.copyOf(der, der.length / 2))
        + "\n-----END CERTIFICATE-----\n";
  }

  private static X500Name name(String value) {
    return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, value).build();
  }

  private static KeyPair keys() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(256);
    return g.generateKeyPair();
  }

  private static byte[] selfSigned(X500Name subject, boolean ca) throws Exception {
    KeyPair kp = keys();
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, BigInteger.valueOf(7),
        Date.from(NOW.minusSeconds(3600)), Date.from(NOW.plusSeconds(86_400L * 365)), subject, kp.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
    return b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())).getEncoded();
  }

  private static String pem(byte[] der) {
    return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END CERTIFICATE-----\n";
  }

  // --- archive ---

  private void archives() throws Exception {
    byte[] good = good().tar();
    archive("parent-path", good().file("../cluster.env", sample("cluster.env")).gzip());
    archive("parent-path-inside-directory", good().file("vm/../../etc/cron.d/istio", "* * * * * root reboot\n").gzip());
    archive("absolute-path", good().file("/etc/cron.d/istio", "* * * * * root reboot\n").gzip());
    archive("symlink", new TarBuilder().entry("hosts", '2', new byte[0], "/etc/shadow").gzip());
    archive("hard-link", new TarBuilder().file("cluster.env", sample("cluster.env"))
        .entry("hosts", '1', new byte[0], "cluster.env").gzip());
    archive("pax-linkpath", new TarBuilder().entry("PaxHeaders/hosts", 'x', pax("linkpath", "/etc/shadow"), "")
        .file("hosts", "").gzip());
    archive("character-device", new TarBuilder().entry("hosts", '3', new byte[0], "").gzip());
    archive("block-device", new TarBuilder().entry("hosts", '4', new byte[0], "").gzip());
    archive("fifo", new TarBuilder().entry("hosts", '6', new byte[0], "").gzip());
    archive("gnu-sparse-file", new TarBuilder().entry("hosts", 'S', new byte[0], "").gzip());
    archive("gnu-long-link-name", new TarBuilder().entry("././@LongLink", 'K', "/etc/shadow\0".getBytes(), "")
        .gzip());
    archive("pax-path-traversal", good().entry("PaxHeaders/x", 'x', pax("path", "../../etc/cron.d/istio"), "")
        .file("harmless", "* * * * * root reboot\n").gzip());
    archive("gnu-long-name-traversal", good().entry("././@LongLink", 'L',
        ("../".repeat(40) + "etc/cron.d/istio\0").getBytes(StandardCharsets.US_ASCII), "")
        .file("harmless", "* * * * * root reboot\n").gzip());
    archive("duplicate-entry", good().file("./hosts", "10.9.9.9 istiod.istio-system.svc\n").gzip());
    archive("unknown-file", good().file("install.sh", "#!/bin/sh\nreboot\n").gzip());
    archive("nested-too-deep", new TarBuilder().file("a/b/hosts", "").gzip());
    archive("nested-directory-entry", new TarBuilder().dir("vm/etc/").gzip());
    archive("two-directories", new TarBuilder().file("x/hosts", "").file("y/cluster.env", "A=1\n").gzip());
    archive("mixed-directories", new TarBuilder().file("hosts", "").file("x/cluster.env", "A=1\n").gzip());
    archive("backslash-in-name", new TarBuilder().file("..\\cluster.env", "A=1\n").gzip());
    archive("newline-in-name", new TarBuilder().file("hosts\nmesh.yaml", "").gzip());
    archive("empty-name", new TarBuilder().file("", "").gzip());
    archive("declared-size-8gib", new TarBuilder().headerOnly("mesh.yaml", 8L << 30).gzip());
    byte[] b256 = Arrays.copyOf(header("mesh.yaml", '0', base256(1L << 40)), 512 + 1024);
    archive("base-256-size", TarBuilder.gzip(b256));
    byte[] nearlyBig = new byte[256 * 1024 - 1];
    archive("total-over-1mib", new TarBuilder().file("mesh.yaml", nearlyBig).file("hosts", nearlyBig)
        .file("cluster.env", nearlyBig).file("istio-token", nearlyBig).file("root-cert.pem", nearlyBig).gzip());
    TarBuilder many = new TarBuilder();
    for (int i = 0; i < 100; i++) {
      many.dir("d/");
    }
    archive("too-many-entries", many.gzip());
    archive("pax-header-over-8k", new TarBuilder().entry("PaxHeaders/x", 'x', pax("comment", "a".repeat(9000)), "")
        .gzip());
    byte[] gz = TarBuilder.gzip(good);
    archive("truncated-download", Arrays.copyOf(gz, gz.length / 2));
    archive("truncated-inside-a-header", TarBuilder.gzip(Arrays.copyOf(good, 700)));
    archive("truncated-inside-a-file", TarBuilder.gzip(Arrays.copyOf(new TarBuilder().file("mesh.yaml",
        new byte[5000]).tar(), 512 + 1000)));
    archive("header-checksum-wrong", new TarBuilder().corruptChecksum("hosts").gzip());
    archive("gzip-of-garbage", TarBuilder.gzip("this is not a tar archive at all".repeat(40).getBytes()));
    byte[] badDeflate = gz.clone();
    badDeflate[10] = 0x07; // first deflate block: final, reserved block type 11
    archive("corrupt-deflate-stream", badDeflate);
    archive("plain-tar-not-gzip", good);
    archive("html-error-page", "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>\n".getBytes());
    archive("json-error", "{\"error\":\"not found\"}\n".getBytes());
    archive("empty-archive", new TarBuilder().gzip());
    // 64 MiB declared in the header: refused from the header before any of it is inflated.
    byte[] huge = new byte[64 << 20];
    Arrays.fill(huge, (byte) 'A');
    archiveStoredGz("gzip-bomb-64mib-file", TarBuilder.gzip(new TarBuilder().file("hosts", huge).tar()));
    // A directory entry declaring 8 GiB, then 1 GiB of zeros squeezed into 1 MB: the entry's "content" is skipped,
    // and the skip must stop at the decompression cap, not after inflating the whole gigabyte.
    archiveStoredGz("gzip-bomb-skipped-directory-content", skipBomb());
  }

  private static TarBuilder good() {
    TarBuilder t = new TarBuilder();
    for (String f : FILES) {
      t.file(f, sample(f));
    }
    return t;
  }

  private static byte[] skipBomb() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (OutputStream gz = new GZIPOutputStream(out) {
      {
        def.setLevel(Deflater.BEST_COMPRESSION);
      }
    }) {
      gz.write(header("vm/", '5', String.format("%011o", 8L << 30).getBytes(StandardCharsets.US_ASCII)));
      byte[] zeros = new byte[1 << 20];
      for (int i = 0; i < 1000; i++) {
        gz.write(zeros);
      }
    }
    return out.toByteArray();
  }

  /** A ustar header with a size field given as raw bytes (octal text, or base-256 with the high bit set). */
  private static byte[] header(String name, char type, byte[] size) {
    byte[] h = new byte[512];
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    System.arraycopy(n, 0, h, 0, n.length);
    System.arraycopy("0000644".getBytes(), 0, h, 100, 7);
    System.arraycopy(size, 0, h, 124, Math.min(size.length, 12));
    h[156] = (byte) type;
    System.arraycopy("ustar".getBytes(), 0, h, 257, 5);
    h[263] = '0';
    h[264] = '0';
    Arrays.fill(h, 148, 156, (byte) ' ');
    int sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    byte[] cs = String.format("%06o", sum).getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(cs, 0, h, 148, 6);
    h[154] = 0;
    return h;
  }

  private static byte[] base256(long v) {
    byte[] b = new byte[12];
    for (int i = 11; i > 0; i--) {
      b[i] = (byte) v;
      v >>>= 8;
    }
    b[0] = (byte) 0x80;
    return b;
  }

  private static byte[] pax(String key, String value) {
    String rec = " " + key + "=" + value + "\n";
    int len = rec.length() + 1;
    while (Integer.toString(len).length() + rec.length() != len) {
      len++;
    }
    return (len + rec).getBytes(StandardCharsets.UTF_8);
  }

  private void archive(String name, byte[] bytes) throws IOException {
    write("archive/" + name + ".tgz", bytes);
  }

  /** A large archive, stored gzip'd once more (".tgz.gz"); the test inflates that outer layer. */
  private void archiveStoredGz(String name, byte[] bytes) throws IOException {
    write("archive/" + name + ".tgz.gz", TarBuilder.gzip(bytes));
  }

  private void write(String rel, byte[] bytes) throws IOException {
    Path p = root.resolve(rel);
    Files.createDirectories(p.getParent());
    if (bytes.length > 64 * 1024 && !rel.endsWith(".gz")) {
      p = root.resolve(rel + ".gz"); // stored gzip'd because it is large; the test inflates it
      bytes = TarBuilder.gzip(bytes);
    }
    Files.write(p, bytes);
  }

  private static byte[] sample(String file) {
    try (InputStream in = HostileCorpusWriter.class.getResourceAsStream("/istioctl-sample/" + file)) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
