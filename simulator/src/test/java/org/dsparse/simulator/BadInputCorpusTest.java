package org.dsparse.simulator;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;
import org.dsparse.core.data.IdxWriter;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Split;
import org.dsparse.training.data.EmbeddedFashionMnist;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input to {@code simulator run}, tried as a new user would: broken dataset folders, checkpoints,
 * device settings and tile groups. Each case runs the real command line in a JVM of its own and must
 * stop during validation, before any cluster or training starts: a non-zero exit, one line on stderr
 * that names the file, key or device at fault, and no stack trace anywhere.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputCorpusTest {
  private static final Pattern STACK_TRACE = Pattern.compile("(?m)^\\s+at \\S+\\(|^Caused by: |Exception");
  private static final String IMAGES = "train-images-idx3-ubyte";
  private static final String LABELS = "train-labels-idx1-ubyte";
  private static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
  private static final String TEST_LABELS = "t10k-labels-idx1-ubyte";
  private static final int CIFAR_RECORD = 1 + 3 * 32 * 32;

  @TempDir
  static Path dir;

  /** Forty training and twenty test images of the embedded subset. */
  private ImageSet train;
  private ImageSet test;

  /** One bad input: the configuration's changes to a small valid experiment, and what the line must name. */
  record Case(String name, String change, List<String> expected) {
    Case(String name, String change, String... expected) {
      this(name, change, List.of(expected));
    }

    @Override
    public String toString() {
      return name;
    }
  }

  @BeforeAll
  void images() throws IOException {
    train = EmbeddedFashionMnist.load(Split.TRAIN).subset(range(40));
    test = EmbeddedFashionMnist.load(Split.TEST).subset(range(20));
  }

  private static int[] range(int n) {
    int[] indices = new int[n];
    Arrays.setAll(indices, i -> i);
    return indices;
  }

  /** A complete Fashion-MNIST folder, gzipped or not, for a case to break. */
  private Path fashion(String name, boolean gzip) throws IOException {
    Path folder = dir.resolve("fashion").resolve(name);
    Files.createDirectories(folder);
    String gz = gzip ? ".gz" : "";
    IdxWriter.write(train, folder.resolve(IMAGES + gz), folder.resolve(LABELS + gz), gzip);
    IdxWriter.write(test, folder.resolve(TEST_IMAGES + gz), folder.resolve(TEST_LABELS + gz), gzip);
    return folder;
  }

  /** {@code file}'s bytes with the 32-bit big-endian integer at {@code offset} replaced. */
  private static void putInt(Path file, int offset, int value) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    ByteBuffer.wrap(bytes).putInt(offset, value);
    Files.write(file, bytes);
  }

  private static String data(Path folder, String kind) {
    return "dsparse.job.data = \"" + kind + ":" + folder + "\"";
  }

  /** A complete CIFAR-10 binary folder of ten records a batch, made here (no CIFAR files on these machines). */
  private static Path cifar(String name) throws IOException {
    Path folder = dir.resolve("cifar").resolve(name);
    Files.createDirectories(folder);
    Random random = new Random(name.hashCode());
    for (String batch : List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
        "data_batch_5.bin", "test_batch.bin")) {
      byte[] bytes = new byte[10 * CIFAR_RECORD];
      random.nextBytes(bytes);
      for (int r = 0; r < 10; r++) {
        bytes[r * CIFAR_RECORD] = (byte) r;
      }
      Files.write(folder.resolve(batch), bytes);
    }
    return folder;
  }

  private static Path file(String name, byte[] bytes) throws IOException {
    Path file = dir.resolve(name);
    Files.write(file, bytes);
    return file;
  }

  private static byte[] gzip(byte[] bytes) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (OutputStream gz = new GZIPOutputStream(out)) {
      gz.write(bytes);
    }
    return out.toByteArray();
  }

  List<Case> cases() throws IOException {
    List<Case> cases = new ArrayList<>();
    // Fashion-MNIST IDX folders, each broken one way.
    Path f = fashion("wrong-magic", false);
    putInt(f.resolve(IMAGES), 0, 0x00000804);
    cases.add(new Case("IDX wrong magic", data(f, "fashion-mnist"), f.resolve(IMAGES).toString(), "magic number"));
    f = fashion("labels-as-images", false);
    Files.copy(f.resolve(LABELS), f.resolve(IMAGES), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    cases.add(new Case("IDX label file in place of the images", data(f, "fashion-mnist"), f.resolve(IMAGES).toString(),
        "this is an IDX label file"));
    f = fashion("text", false);
    Files.writeString(f.resolve(IMAGES), "hello, these are not images\n");
    cases.add(new Case("IDX a text file", data(f, "fashion-mnist"), f.resolve(IMAGES).toString(), "magic number"));
    f = fashion("truncated-gzip", true);
    byte[] gz = Files.readAllBytes(f.resolve(IMAGES + ".gz"));
    Files.write(f.resolve(IMAGES + ".gz"), Arrays.copyOf(gz, gz.length / 2));
    cases.add(new Case("IDX truncated gzip", data(f, "fashion-mnist"), f.resolve(IMAGES + ".gz").toString(),
        "truncated"));
    f = fashion("corrupt-gzip-header", true);
    gz = Files.readAllBytes(f.resolve(LABELS + ".gz"));
    gz[2] = 0x63;
    Files.write(f.resolve(LABELS + ".gz"), gz);
    cases.add(new Case("IDX corrupt gzip header", data(f, "fashion-mnist"), f.resolve(LABELS + ".gz").toString(),
        "gzip"));
    f = fashion("count-too-high", false);
    putInt(f.resolve(IMAGES), 4, 100);
    cases.add(new Case("IDX header claims more images than it holds", data(f, "fashion-mnist"),
        f.resolve(IMAGES).toString(), "truncated"));
    f = fashion("count-huge", false);
    putInt(f.resolve(IMAGES), 4, 2_500_000);
    cases.add(new Case("IDX header claims millions of images", data(f, "fashion-mnist"), f.resolve(IMAGES).toString(),
        "truncated"));
    f = fashion("count-too-low", false);
    putInt(f.resolve(IMAGES), 4, 30);
    cases.add(new Case("IDX header claims fewer images than it holds", data(f, "fashion-mnist"),
        f.resolve(IMAGES).toString(), "more bytes"));
    f = fashion("dimensions-lie", false);
    putInt(f.resolve(TEST_IMAGES), 12, 27);
    cases.add(new Case("IDX header lies about the width", data(f, "fashion-mnist"), f.resolve(TEST_IMAGES).toString(),
        "more bytes"));
    f = fashion("negative-count", false);
    putInt(f.resolve(IMAGES), 4, -40);
    cases.add(new Case("IDX negative count", data(f, "fashion-mnist"), f.resolve(IMAGES).toString(), "negative"));
    f = fashion("no-images", false);
    putInt(f.resolve(IMAGES), 4, 0);
    Files.write(f.resolve(IMAGES), Arrays.copyOf(Files.readAllBytes(f.resolve(IMAGES)), 16));
    cases.add(new Case("IDX header of no images", data(f, "fashion-mnist"), f.resolve(IMAGES).toString(),
        "0 images"));
    f = fashion("count-mismatch", false);
    putInt(f.resolve(LABELS), 4, 39);
    byte[] labels = Files.readAllBytes(f.resolve(LABELS));
    Files.write(f.resolve(LABELS), Arrays.copyOf(labels, labels.length - 1));
    cases.add(new Case("IDX fewer labels than images", data(f, "fashion-mnist"), f.resolve(LABELS).toString(),
        "declares 39 labels"));
    f = fashion("label-range", false);
    labels = Files.readAllBytes(f.resolve(TEST_LABELS));
    labels[8 + 7] = 12;
    Files.write(f.resolve(TEST_LABELS), labels);
    cases.add(new Case("IDX label out of range", data(f, "fashion-mnist"), f.resolve(TEST_LABELS).toString(),
        "label 12 of item 7"));
    f = fashion("empty-labels", false);
    Files.write(f.resolve(LABELS), new byte[0]);
    cases.add(new Case("IDX empty labels file", data(f, "fashion-mnist"), f.resolve(LABELS).toString(), "truncated"));
    f = fashion("missing-file", true);
    Files.delete(f.resolve(TEST_LABELS + ".gz"));
    cases.add(new Case("IDX missing file", data(f, "fashion-mnist"), f.toString(), TEST_LABELS));
    f = fashion("folder-for-file", false);
    Files.delete(f.resolve(TEST_IMAGES));
    Files.createDirectories(f.resolve(TEST_IMAGES));
    cases.add(new Case("IDX a folder where a file should be", data(f, "fashion-mnist"), f.toString(), TEST_IMAGES));
    f = fashion("gzipped-garbage", false);
    Files.write(f.resolve(IMAGES), gzip("not an IDX file, though well gzipped".getBytes(StandardCharsets.UTF_8)));
    cases.add(new Case("IDX gzip of something else", data(f, "fashion-mnist"), f.resolve(IMAGES).toString(),
        "magic number"));
    cases.add(new Case("data folder that does not exist", data(dir.resolve("no-such-folder"), "fashion-mnist"),
        dir.resolve("no-such-folder").toString(), "not a folder"));
    Files.createDirectories(dir.resolve("empty-folder"));
    cases.add(new Case("data folder without the dataset", data(dir.resolve("empty-folder"), "fashion-mnist"),
        dir.resolve("empty-folder").toString(), "missing"));
    // CIFAR-10 binary folders.
    Path c = cifar("truncated");
    byte[] batch = Files.readAllBytes(c.resolve("data_batch_3.bin"));
    Files.write(c.resolve("data_batch_3.bin"), Arrays.copyOf(batch, batch.length - 100));
    cases.add(new Case("CIFAR truncated record", data(c, "cifar10"), c.resolve("data_batch_3.bin").toString(),
        "incomplete record 10"));
    c = cifar("label");
    batch = Files.readAllBytes(c.resolve("test_batch.bin"));
    batch[4 * CIFAR_RECORD] = (byte) 200;
    Files.write(c.resolve("test_batch.bin"), batch);
    cases.add(new Case("CIFAR label out of range", data(c, "cifar10"), c.resolve("test_batch.bin").toString(),
        "record 4", "label 200"));
    c = cifar("missing");
    Files.delete(c.resolve("data_batch_5.bin"));
    cases.add(new Case("CIFAR missing batch", data(c, "cifar10"), c.toString(), "data_batch_5.bin"));
    c = cifar("empty");
    Files.write(c.resolve("data_batch_2.bin"), new byte[0]);
    cases.add(new Case("CIFAR empty batch", data(c, "cifar10"), c.resolve("data_batch_2.bin").toString(), "empty"));
    // Intact folders pass: the culprit is then the checkpoint checked after them.
    cases.add(new Case("IDX intact folder passes to the checkpoint", data(fashion("intact", true), "fashion-mnist")
        + "\ndsparse.job.initial-checkpoint = \"/nonexistent-after-data.ckpt\"", "/nonexistent-after-data.ckpt"));
    cases.add(new Case("CIFAR intact folder passes to the checkpoint", data(cifar("intact"), "cifar10")
        + "\ndsparse.job.initial-checkpoint = \"/nonexistent-after-cifar.ckpt\"", "/nonexistent-after-cifar.ckpt"));
    // Checkpoints.
    byte[] noise = new byte[5000];
    new Random(5).nextBytes(noise);
    Path random = file("random.ckpt", noise);
    String pretrain = "dsparse.simulation.pretrain.epochs = 1\ndsparse.job.held-out-fraction = 0.5\n";
    cases.add(new Case("initial checkpoint missing, with pre-training", pretrain
        + "dsparse.job.initial-checkpoint = \"/nonexistent-initial.ckpt\"", "dsparse.simulation.pretrain.epochs",
        "dsparse.job.initial-checkpoint", "/nonexistent-initial.ckpt"));
    cases.add(new Case("initial checkpoint random bytes, with pre-training", pretrain
        + "dsparse.job.initial-checkpoint = \"" + random + "\"", "dsparse.simulation.pretrain.epochs",
        "dsparse.job.initial-checkpoint", random.toString()));
    cases.add(new Case("initial checkpoint missing", "dsparse.job.initial-checkpoint = \"/nonexistent-initial.ckpt\"",
        "dsparse.job.initial-checkpoint", "/nonexistent-initial.ckpt", "no such file"));
    cases.add(new Case("initial checkpoint random bytes", "dsparse.job.initial-checkpoint = \"" + random + "\"",
        "dsparse.job.initial-checkpoint", random.toString(), "not a dsparse checkpoint"));
    cases.add(new Case("variant with a checkpoint of its own", "dsparse.simulation.variants = [ { name = v, job {"
        + " initial-checkpoint = \"" + random + "\" } } ]", "dsparse.simulation.variants[0]", "initial-checkpoint"));
    // Tile groups.
    cases.add(new Case("tiling names unknown devices", "dsparse.job { mode = dsparse, tiling { devices = [ghost,"
        + " phantom], layers = 3 } }", "dsparse.job.tiling.devices", "ghost, phantom"));
    cases.add(new Case("tiling names one unknown device", "dsparse.job { mode = dsparse, tiling { devices = [a,"
        + " phantom], layers = 3 } }", "dsparse.job.tiling.devices", "phantom is not a device"));
    cases.add(new Case("tiling count above the devices", "dsparse.job { mode = dsparse, tiling { count = 5 } }",
        "dsparse.job.tiling.count = 5"));
    // Per-device keys.
    String a = "dsparse.simulation.devices = [ { name = b }, { name = a, ";
    cases.add(new Case("budget negative percentage", a + "budget = \"-5%\" } ]",
        "dsparse.simulation.devices[1].budget (a)", "-5%"));
    cases.add(new Case("budget negative size", a + "budget = \"-64MiB\" } ]",
        "dsparse.simulation.devices[1].budget (a)", "-64MiB"));
    cases.add(new Case("budget a word", a + "budget = lots } ]", "dsparse.simulation.devices[1].budget (a)", "lots"));
    cases.add(new Case("budget a list", a + "budget = [1, 2] } ]", "dsparse.simulation.devices[1].budget (a)"));
    cases.add(new Case("slowdown below 1", a + "compute-slowdown = 0.5 } ]",
        "dsparse.simulation.devices[1].compute-slowdown (a)"));
    cases.add(new Case("slowdown a word", a + "compute-slowdown = fast } ]",
        "dsparse.simulation.devices[1].compute-slowdown (a)", "fast"));
    cases.add(new Case("link not a rate", a + "link = fast } ]", "dsparse.simulation.devices[1].link (a)", "fast"));
    cases.add(new Case("budget key misspelt", a + "budgte = \"50%\" } ]", "dsparse.simulation.devices[1]",
        "budgte"));
    cases.add(new Case("device name twice", "dsparse.simulation.devices = [ { name = a }, { name = a } ]",
        "dsparse.simulation.devices[1].name", "'a'"));
    cases.add(new Case("device without a name", "dsparse.simulation.devices = [ { name = a }, { budget = \"50%\" } ]",
        "dsparse.simulation.devices[1].name"));
    cases.add(new Case("default budget negative", "dsparse.simulation.device-defaults.budget = \"-1%\"",
        "dsparse.simulation.device-defaults.budget (for a)", "-1%"));
    cases.add(new Case("simulation key misspelt", "dsparse.simulation.pretrian.epochs = 3", "dsparse.simulation",
        "pretrian"));
    return cases;
  }

  /** The other side: every experiment shipped under conf/ passes the checks that refuse the cases. */
  @org.junit.jupiter.api.Test
  void theShippedExperimentsRead() throws IOException {
    List<Path> examples;
    try (var files = Files.list(Path.of("..", "conf"))) {
      examples = files.filter(p -> p.toString().endsWith(".conf")).sorted().toList();
    }
    int read = 0;
    for (Path example : examples) {
      if (!Files.readString(example).contains("dsparse.simulation")) {
        continue;
      }
      com.typesafe.config.Config config = com.typesafe.config.ConfigFactory.parseFile(example.toFile())
          .withFallback(com.typesafe.config.ConfigFactory.load()).resolve();
      try {
        SimulationConfig.read(config);
        read++;
      } catch (org.dsparse.core.cli.UsageException e) {
        throw new AssertionError(example + ": " + e.getMessage(), e);
      }
    }
    assertTrue(read >= 5, "found only " + read + " experiments under conf/");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void badInputStopsWithOneLineNamingIt(Case input) throws Exception {
    Path config = dir.resolve("configs").resolve(input.name().replaceAll("[^A-Za-z0-9]+", "-") + ".conf");
    Files.createDirectories(config.getParent());
    Files.writeString(config, """
        dsparse.job { model = small-cnn, data = embedded, epochs = 1, checkpoint-dir = "" }
        dsparse.simulation { name = corpus, devices = [ { name = a }, { name = b } ] }
        dsparse.dashboard.port = -1
        pekko.loglevel = WARNING
        """ + input.change() + "\n");
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-Dlogback.configurationFile=" + Path.of("..", ".mvn", "logback-test.xml").toAbsolutePath().normalize()));
    for (String property : List.of("ai.djl.offline", "DJL_CACHE_DIR", "ai.djl.pytorch.num_threads",
        "ai.djl.pytorch.num_interop_threads")) {
      if (System.getProperty(property) != null) {
        command.add("-D" + property + "=" + System.getProperty(property));
      }
    }
    command.addAll(List.of("-cp", classpath, SimulatorMain.class.getName(), "run", "--config", config.toString(),
        "--out", dir.resolve("out").toString()));
    Path stdout = dir.resolve("stdout.txt");
    Path stderr = dir.resolve("stderr.txt");
    long started = System.nanoTime();
    Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectOutput(stdout.toFile())
        .redirectError(stderr.toFile()).start();
    boolean ended = process.waitFor(60, TimeUnit.SECONDS);
    if (!ended) {
      process.destroyForcibly().waitFor();
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    String out = Files.readString(stdout);
    String err = Files.readString(stderr);
    String both = "stderr:\n" + err + "stdout:\n" + out;
    assertTrue(ended, input + ": still running after 60 s (it must stop during validation):\n" + both);
    assertTrue(process.exitValue() != 0, input + ": exit 0\n" + both);
    assertTrue(!STACK_TRACE.matcher(err).find() && !STACK_TRACE.matcher(out).find(), input + ": a stack trace or"
        + " an exception's name\n" + both);
    assertTrue(!Files.exists(dir.resolve("out").resolve("corpus.json")), input + ": a run got as far as results");
    List<String> lines = err.lines().filter(l -> !l.isBlank()).toList();
    assertTrue(lines.size() == 1 && lines.get(0).startsWith("simulator: "), input
        + ": expected exactly one line on stderr\n" + both);
    for (String culprit : input.expected()) {
      assertTrue(lines.get(0).contains(culprit), input + ": the line does not name '" + culprit + "'\n" + both);
    }
    // The corpus's lines in the test output, to read them all at once.
    System.out.printf("%-50s %4.1f s  %s%n", input, seconds, lines.get(0));
    assertTrue(seconds < 30, input + ": took " + seconds + " s to refuse it\n" + both);
  }
}
