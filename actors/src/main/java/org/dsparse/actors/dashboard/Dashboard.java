package org.dsparse.actors.dashboard;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.completeOK;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathSingleSlash;

import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Source;
import org.dsparse.actors.job.JobEvent;
import org.dsparse.core.cli.Ports;

/**
 * A live web page of the jobs this node submits: their devices with budget, predicted and measured
 * memory; the plan as a layer-by-device grid; the process groups with their bytes and times per step;
 * loss, accuracy, aggregation and step-time curves; failures and membership changes as they happen.
 *
 * <p>It is a {@code Consumer<JobEvent>}: give it the events a job's coordinator sends its submitter.
 * The page ({@code GET /}) opens {@code GET /events}, a server-sent event stream that first replays
 * every event so far, then each new one as it comes; the page rebuilds its view from them, so a page
 * opened late or reconnecting shows the same as one open from the start. {@code GET /events.json}
 * answers the events so far at once. {@link #save} writes the page with the events in it, to open
 * after the run without a server.
 */
public final class Dashboard implements Consumer<JobEvent>, AutoCloseable {
  /** Events a slow page may fall behind by before its stream is closed (it reconnects and replays). */
  private static final int LIVE_BUFFER = 10_000;
  private static final Duration BIND_TIMEOUT = Duration.ofSeconds(10);

  private final ActorSystem<?> system;
  private final boolean ownSystem;
  private final ServerBinding binding;
  private final String url;
  private final Object lock = new Object();
  /** Every event so far, as the JSON text sent. Guarded by {@link #lock}. */
  private final List<String> history = new ArrayList<>();
  /** The open event streams. Guarded by {@link #lock}. */
  private final List<BoundedSourceQueue<ServerSentEvent>> streams = new ArrayList<>();

  private Dashboard(ActorSystem<?> system, boolean ownSystem, String host, int port) {
    this.system = system;
    this.ownSystem = ownSystem;
    try {
      Ports.checkFree("dsparse.dashboard.port", host, port);
      binding = Http.get(system).newServerAt(host, port).bind(routes()).toCompletableFuture()
          .get(BIND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      close();
      throw new IllegalArgumentException("dsparse.dashboard.port: cannot serve the dashboard on " + host + ":" + port
          + ": " + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()));
    } catch (InterruptedException e) {
      close();
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting the dashboard", e);
    }
    this.url = "http://" + host + ":" + binding.localAddress().getPort() + "/";
  }

  /** Serves the dashboard from {@code system} (a node's) on {@code host:port}; port 0 takes any free one. */
  public static Dashboard start(ActorSystem<?> system, String host, int port) {
    return new Dashboard(system, false, host, port);
  }

  /**
   * Serves the dashboard from an actor system of its own, for a program whose clusters come and go
   * while the page stays (the simulator runs each mode on a fresh cluster).
   */
  public static Dashboard start(String host, int port) {
    Config config = ConfigFactory.parseString("""
        pekko.actor.provider = local
        pekko.loglevel = WARNING
        pekko.http.server.idle-timeout = infinite
        """).withFallback(ConfigFactory.load());
    return new Dashboard(ActorSystem.create(Behaviors.empty(), "dsparse-dashboard", config), true, host, port);
  }

  /** Where the page is served. */
  public String url() {
    return url;
  }

  @Override
  public void accept(JobEvent event) {
    String json = DashboardJson.of(event).toString();
    synchronized (lock) {
      history.add(json);
      streams.removeIf(stream -> stream.offer(ServerSentEvent.create(json)) != QueueOfferResult.enqueued());
    }
  }

  /** Writes the page with every event so far in it: it shows the jobs as they ended, without a server. */
  public Path save(Path file) throws IOException {
    String events;
    synchronized (lock) {
      events = "[" + String.join(",\n", history) + "]";
    }
    // A "</" inside a JSON string would end the script element early.
    String script = "<script>window.DSPARSE_EVENTS = " + events.replace("</", "<\\/") + ";</script>";
    Files.writeString(file, page().replace("<!-- saved events -->", script), StandardCharsets.UTF_8);
    return file;
  }

  @Override
  public void close() {
    synchronized (lock) {
      streams.forEach(BoundedSourceQueue::complete);
      streams.clear();
    }
    if (binding != null) {
      binding.unbind();
    }
    if (ownSystem) {
      system.terminate();
    }
  }

  private Route routes() {
    return get(() -> concat(
        pathSingleSlash(() -> complete(HttpEntities.create(ContentTypes.TEXT_HTML_UTF8, page()))),
        path("events", () -> completeOK(events(), EventStreamMarshalling.toEventStream())),
        path("events.json", () -> complete(HttpEntities.create(ContentTypes.APPLICATION_JSON, eventsJson())))));
  }

  /** A new page's stream: every event so far, then each new one. */
  private Source<ServerSentEvent, NotUsed> events() {
    Pair<BoundedSourceQueue<ServerSentEvent>, Source<ServerSentEvent, NotUsed>> queue =
        Source.<ServerSentEvent>queue(LIVE_BUFFER).preMaterialize(system);
    synchronized (lock) {
      // Replayed and live events go through one queue, in order, so the page misses none between them.
      Source<ServerSentEvent, NotUsed> replay = Source.from(history.stream().map(ServerSentEvent::create).toList());
      streams.add(queue.first());
      return Source.single(ServerSentEvent.create(hello(), "hello")).concat(replay).concat(queue.second())
          .keepAlive(Duration.ofSeconds(15), ServerSentEvent::heartbeat);
    }
  }

  /** Tells the page to start from a clean view: a reconnecting page replays everything. */
  private static String hello() {
    JsonObject o = new JsonObject();
    o.addProperty("time", System.currentTimeMillis());
    return o.toString();
  }

  private String eventsJson() {
    synchronized (lock) {
      return "[" + String.join(",", history) + "]";
    }
  }

  private static String page() {
    try (InputStream in = Dashboard.class.getResourceAsStream("dashboard.html")) {
      if (in == null) {
        throw new IllegalStateException("dashboard.html is missing from the jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
