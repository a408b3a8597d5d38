package org.dsparse.actors.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A cluster's own certificate authority and its devices' certificates, as PEM files:
 *
 * <pre>
 * DIR/ca.crt           the cluster's CA certificate: every device trusts it, and only it
 * DIR/ca.key           its private key (owner-only): keep it on the machine that issues, not on devices
 * DIR/NAME/tls.crt     a device's certificate, issued by the CA
 * DIR/NAME/tls.key     its private key (owner-only)
 * DIR/NAME/ca.crt      a copy of the CA certificate: DIR/NAME is all a device needs
 * </pre>
 *
 * Keys are RSA (what Pekko's {@code RotatingKeysSSLEngineProvider} reads), certificates are issued
 * directly by the CA, and every device certificate carries, beside its own name, the cluster's name
 * as a subject alternative name: Pekko checks after each handshake that both sides share a subject
 * name, so a certificate of another dsparse cluster is refused even by a node that trusted its CA.
 */
public final class ClusterCertificates {
  public static final String CA_CERT = "ca.crt";
  public static final String CA_KEY = "ca.key";
  public static final String CERT = "tls.crt";
  public static final String KEY = "tls.key";
  /** Device and cluster names: DNS labels, so they fit a subject alternative name. */
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  private static final int KEY_BITS = 2048;

  private ClusterCertificates() {}

  /** A certificate as {@code certs list} shows it. */
  public record Described(Path file, String subject, List<String> names, Instant notAfter, boolean authority,
      boolean issuedByCa) {
    public long daysLeft(Clock clock) {
      return Duration.between(clock.instant(), notAfter).toDays();
    }
  }

  /**
   * Creates the cluster's CA in {@code dir}; refuses to replace one (every certificate it issued would
   * stop working).
   */
  public static X509Certificate initCa(Path dir, String cluster, Duration validity, Clock clock) throws IOException {
    checkName(cluster, "--cluster");
    if (Files.exists(dir.resolve(CA_KEY)) || Files.exists(dir.resolve(CA_CERT))) {
      throw new FileAlreadyExistsException(dir.resolve(CA_CERT) + " exists: this folder has a CA already"
          + " (delete it only to start a new cluster: every certificate it issued would be refused)");
    }
    Files.createDirectories(dir);
    KeyPair keys = newKeyPair();
    X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "dsparse")
        .addRDN(BCStyle.CN, "dsparse cluster " + cluster + " CA").build();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, serial(), Date.from(clock.instant()),
          Date.from(clock.instant().plus(validity)), subject, keys.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()))
          .addExtension(Extension.subjectAlternativeName, false,
              new GeneralNames(new GeneralName(GeneralName.dNSName, cluster)));
      X509Certificate ca = sign(builder, keys.getPrivate());
      writePrivate(dir.resolve(CA_KEY), keys.getPrivate());
      writePublic(dir.resolve(CA_CERT), ca);
      return ca;
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IOException("cannot create the CA: " + e.getMessage(), e);
    }
  }

  /** Issues device {@code name}'s key and certificate with the CA in {@code dir}, into {@code dir/name}. */
  public static X509Certificate issue(Path dir, String name, Duration validity, Clock clock) throws IOException {
    checkName(name, "--name");
    X509Certificate ca = readCertificate(dir.resolve(CA_CERT));
    PrivateKey caKey = readPrivateKey(dir.resolve(CA_KEY));
    Path device = dir.resolve(name);
    if (Files.exists(device.resolve(KEY)) || Files.exists(device.resolve(CERT))) {
      throw new FileAlreadyExistsException(device + " has a certificate already (delete the folder to issue a new one)");
    }
    String cluster = clusterName(ca, dir.resolve(CA_CERT));
    Instant notAfter = clock.instant().plus(validity);
    if (notAfter.isAfter(ca.getNotAfter().toInstant())) {
      notAfter = ca.getNotAfter().toInstant();
    }
    Files.createDirectories(device);
    KeyPair keys = newKeyPair();
    X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "dsparse")
        .addRDN(BCStyle.CN, name).build();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(ca, serial(), Date.from(clock.instant()),
          Date.from(notAfter), subject, keys.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
          .addExtension(Extension.extendedKeyUsage, false,
              new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()))
          .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca))
          .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
              new GeneralName(GeneralName.dNSName, name), new GeneralName(GeneralName.dNSName, cluster)}));
      X509Certificate certificate = sign(builder, caKey);
      writePrivate(device.resolve(KEY), keys.getPrivate());
      writePublic(device.resolve(CERT), certificate);
      Files.copy(dir.resolve(CA_CERT), device.resolve(CA_CERT));
      return certificate;
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IOException("cannot issue a certificate for " + name + ": " + e.getMessage(), e);
    }
  }

  /** Every certificate under {@code dir}: the CA's, then each device's, by path. */
  public static List<Described> list(Path dir) throws IOException {
    X509Certificate ca = Files.exists(dir.resolve(CA_CERT)) ? readCertificate(dir.resolve(CA_CERT)) : null;
    List<Described> out = new ArrayList<>();
    List<Path> files;
    try (Stream<Path> walk = Files.walk(dir, 2)) {
      files = walk.filter(p -> p.getFileName().toString().equals(CA_CERT) && p.getParent().equals(dir)
          || p.getFileName().toString().equals(CERT)).sorted().toList();
    }
    for (Path file : files) {
      X509Certificate cert = readCertificate(file);
      out.add(new Described(file, cert.getSubjectX500Principal().getName(), subjectNames(cert),
          cert.getNotAfter().toInstant(), cert.getBasicConstraints() >= 0, ca != null && issuedBy(cert, ca)));
    }
    return out;
  }

  /**
   * Checks a device's folder before its node starts: the three files are there and readable, the key
   * is the certificate's, the certificate is issued by the CA and valid now. Answers the certificate;
   * anything wrong is an IllegalArgumentException naming the file and what is wrong.
   */
  public static X509Certificate checkDevice(Path dir, Clock clock) {
    Path certFile = dir.resolve(CERT);
    Path keyFile = dir.resolve(KEY);
    Path caFile = dir.resolve(CA_CERT);
    try {
      X509Certificate certificate = readCertificate(certFile);
      PrivateKey key = readPrivateKey(keyFile);
      X509Certificate ca = readCertificate(caFile);
      if (!(key instanceof RSAPrivateCrtKey rsa) || !(certificate.getPublicKey() instanceof RSAPublicKey pub)
          || !rsa.getModulus().equals(pub.getModulus())) {
        throw new IllegalArgumentException(keyFile + " is not the private key of " + certFile);
      }
      if (!issuedBy(certificate, ca)) {
        throw new IllegalArgumentException(certFile + " was not issued by the CA of " + caFile);
      }
      Instant now = clock.instant();
      if (now.isAfter(certificate.getNotAfter().toInstant())) {
        throw new IllegalArgumentException(certFile + " expired on " + certificate.getNotAfter().toInstant()
            + ": issue a new one with node-app certs issue");
      }
      if (now.isBefore(certificate.getNotBefore().toInstant())) {
        throw new IllegalArgumentException(certFile + " is not valid before " + certificate.getNotBefore().toInstant()
            + " (is this machine's clock right?)");
      }
      return certificate;
    } catch (IOException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  public static X509Certificate readCertificate(Path file) throws IOException {
    byte[] bytes = readFile(file, "certificate");
    try (InputStream in = new ByteArrayInputStream(bytes)) {
      Collection<? extends java.security.cert.Certificate> all =
          CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (all.isEmpty()) {
        throw new IOException(file + " holds no PEM certificate");
      }
      return (X509Certificate) all.iterator().next();
    } catch (GeneralSecurityException e) {
      throw new IOException(file + " is not a PEM certificate: " + e.getMessage(), e);
    }
  }

  /** An unencrypted PKCS#8 PEM private key ({@code -----BEGIN PRIVATE KEY-----}), as issue writes them. */
  static PrivateKey readPrivateKey(Path file) throws IOException {
    String text = new String(readFile(file, "private key"), StandardCharsets.US_ASCII);
    int begin = text.indexOf("-----BEGIN PRIVATE KEY-----");
    int end = text.indexOf("-----END PRIVATE KEY-----");
    if (begin < 0 || end < begin) {
      throw new IOException(file + " is not an unencrypted PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)");
    }
    try {
      byte[] der = Base64.getMimeDecoder().decode(text.substring(begin + 27, end));
      return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(der));
    } catch (IllegalArgumentException | GeneralSecurityException e) {
      throw new IOException(file + " is not a readable RSA private key: " + e.getMessage(), e);
    }
  }

  private static byte[] readFile(Path file, String what) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException(file + ": no such " + what + " file");
    }
    if (!Files.isReadable(file)) {
      throw new IOException(file + ": not readable by this user");
    }
    return Files.readAllBytes(file);
  }

  /** The cluster's name, which the CA certificate carries as its one subject alternative name. */
  static String clusterName(X509Certificate ca, Path file) throws IOException {
    List<String> names = subjectNames(ca);
    if (ca.getBasicConstraints() < 0 || names.isEmpty()) {
      throw new IOException(file + " is not a dsparse cluster CA (made by node-app certs init)");
    }
    return names.get(0);
  }

  static List<String> subjectNames(X509Certificate cert) throws IOException {
    try {
      Collection<List<?>> names = cert.getSubjectAlternativeNames();
      List<String> out = new ArrayList<>();
      if (names != null) {
        for (List<?> name : names) {
          if (Integer.valueOf(GeneralName.dNSName).equals(name.get(0))) {
            out.add(name.get(1).toString());
          }
        }
      }
      return out;
    } catch (GeneralSecurityException e) {
      throw new IOException("unreadable subject names: " + e.getMessage(), e);
    }
  }

  private static boolean issuedBy(X509Certificate cert, X509Certificate ca) {
    try {
      cert.verify(ca.getPublicKey());
      return cert.getIssuerX500Principal().equals(ca.getSubjectX500Principal());
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static void checkName(String name, String flag) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(flag + " " + name + ": use lower-case letters, digits and '-' (a DNS label,"
          + " at most 63 characters)");
    }
  }

  private static KeyPair newKeyPair() throws IOException {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(KEY_BITS, new SecureRandom());
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot generate an RSA key: " + e.getMessage(), e);
    }
  }

  private static BigInteger serial() {
    return new BigInteger(127, new SecureRandom());
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
      throws OperatorCreationException, GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(
        builder.build(new JcaContentSignerBuilder("SHA256withRSA").build(key)));
  }

  /** A private key, created readable by its owner only before a byte is written. */
  private static void writePrivate(Path file, PrivateKey key) throws IOException {
    StringWriter text = new StringWriter();
    try (JcaPEMWriter pem = new JcaPEMWriter(text)) {
      pem.writeObject(new JcaPKCS8Generator(key, null));
    }
    Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(file, text.toString(), StandardCharsets.US_ASCII);
  }

  private static void writePublic(Path file, X509Certificate certificate) throws IOException {
    StringWriter text = new StringWriter();
    try (JcaPEMWriter pem = new JcaPEMWriter(text)) {
      pem.writeObject(certificate);
    }
    Files.writeString(file, text.toString(), StandardCharsets.US_ASCII);
  }

  /** Days as the tables show them. */
  public static String days(long days) {
    return String.format(Locale.ROOT, "%d day%s", days, days == 1 ? "" : "s");
  }
}
