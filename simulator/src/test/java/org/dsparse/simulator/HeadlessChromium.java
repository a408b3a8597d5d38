package org.dsparse.simulator;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A real headless Chromium (Debian's {@code chromium}) driven over the DevTools protocol: one page that
 * navigates, evaluates JavaScript in the page as it stands, and takes screenshots. Every call has a
 * deadline.
 */
final class HeadlessChromium implements AutoCloseable {
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private final Process process;
  private final WebSocket socket;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, CompletableFuture<JsonObject>> replies = new ConcurrentHashMap<>();

  /** The browser's executable, if this machine has one. */
  static Optional<Path> find() {
    return Stream.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium")
        .map(Path::of).filter(Files::isExecutable).findFirst();
  }

  static HeadlessChromium start(Path executable, Path profile) throws Exception {
    Process process = new ProcessBuilder(executable.toString(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--remote-debugging-port=0", "--remote-allow-origins=*",
        "--user-data-dir=" + profile, "--window-size=1400,2000", "about:blank")
        .redirectErrorStream(true).redirectOutput(profile.resolveSibling("chromium.log").toFile()).start();
    try {
      Path portFile = profile.resolve("DevToolsActivePort");
      long deadline = System.nanoTime() + DEADLINE.toNanos();
      while (!Files.exists(portFile) || Files.readAllLines(portFile).size() < 2) {
        if (System.nanoTime() > deadline || !process.isAlive()) {
          throw new IllegalStateException("chromium did not open its DevTools port within " + DEADLINE
              + " (see " + profile.resolveSibling("chromium.log") + ")");
        }
        Thread.sleep(100);
      }
      int port = Integer.parseInt(Files.readAllLines(portFile).get(0).trim());
      HttpClient http = HttpClient.newBuilder().connectTimeout(DEADLINE).build();
      String targets = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/list"))
          .timeout(DEADLINE).build(), HttpResponse.BodyHandlers.ofString()).body();
      String pageSocket = null;
      for (var target : JsonParser.parseString(targets).getAsJsonArray()) {
        if (target.getAsJsonObject().get("type").getAsString().equals("page")) {
          pageSocket = target.getAsJsonObject().get("webSocketDebuggerUrl").getAsString();
          break;
        }
      }
      if (pageSocket == null) {
        throw new IllegalStateException("chromium lists no page: " + targets);
      }
      return new HeadlessChromium(process, http, URI.create(pageSocket));
    } catch (Exception e) {
      process.destroyForcibly();
      throw e;
    }
  }

  private HeadlessChromium(Process process, HttpClient http, URI pageSocket) throws Exception {
    this.process = process;
    this.socket = http.newWebSocketBuilder().connectTimeout(DEADLINE).buildAsync(pageSocket, new Listener())
        .get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
  }

  void navigate(String url) throws Exception {
    JsonObject params = new JsonObject();
    params.addProperty("url", url);
    call("Page.navigate", params);
  }

  /** The value of {@code expression} in the page, as JSON text. */
  String evaluate(String expression) throws Exception {
    JsonObject params = new JsonObject();
    params.addProperty("expression", expression);
    params.addProperty("returnByValue", true);
    JsonObject result = call("Runtime.evaluate", params);
    if (result.has("exceptionDetails")) {
      throw new IllegalStateException("page script failed: " + result.get("exceptionDetails"));
    }
    JsonObject value = result.getAsJsonObject("result");
    return value.has("value") ? value.get("value").toString() : "undefined";
  }

  void screenshot(Path file) throws Exception {
    JsonObject params = new JsonObject();
    params.addProperty("format", "png");
    params.addProperty("captureBeyondViewport", true);
    String data = call("Page.captureScreenshot", params).get("data").getAsString();
    Files.write(file, Base64.getDecoder().decode(data));
  }

  private JsonObject call(String method, JsonObject params) throws Exception {
    int id = ids.incrementAndGet();
    CompletableFuture<JsonObject> reply = new CompletableFuture<>();
    replies.put(id, reply);
    JsonObject message = new JsonObject();
    message.addProperty("id", id);
    message.addProperty("method", method);
    message.add("params", params);
    socket.sendText(message.toString(), true).get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    JsonObject answer = reply.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    if (answer.has("error")) {
      throw new IllegalStateException(method + " failed: " + answer.get("error"));
    }
    return answer.getAsJsonObject("result");
  }

  @Override
  public void close() throws IOException {
    socket.abort();
    process.destroyForcibly();
  }

  private final class Listener implements WebSocket.Listener {
    private final StringBuilder text = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        JsonObject message = JsonParser.parseString(text.toString()).getAsJsonObject();
        text.setLength(0);
        if (message.has("id")) {
          CompletableFuture<JsonObject> reply = replies.remove(message.get("id").getAsInt());
          if (reply != null) {
            reply.complete(message);
          }
        }
      }
      webSocket.request(1);
      return null;
    }
  }
}
