package org.dsparse.simulator;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.io.File;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.dsparse.actors.job.JobConfig;
import org.dsparse.actors.job.JobEvent;
import org.dsparse.actors.node.DsparseNode;
import org.dsparse.actors.node.NodeConfig;
import org.dsparse.core.cli.Flags;

/**
 * A job's coordinator in its own JVM, without a device: joins the cluster at {@code --seed}, submits
 * the job of {@code --config} (with {@code --resume devices}: continues it from its devices' state),
 * and prints each of the job's events as one line, {@link #EVENT} and a JSON object
 * ({@code type}, {@code atMillis}, {@code event}), so that a bench can follow the job and kill this
 * process. Exits 0 when the job succeeded, 1 otherwise.
 */
public final class CoordinatorProcess {
  public static final String EVENT = "DSPARSE-EVENT ";

  private CoordinatorProcess() {}

  public static void main(String[] args) throws Exception {
    org.dsparse.training.trainer.DjlDefaults.apply();
    Flags flags = Flags.parse("coordinator-process", args, Set.of("seed", "config", "resume", "host"), Set.of());
    // -D settings override the file, as they override application.conf.
    Config config = ConfigFactory.systemProperties()
        .withFallback(ConfigFactory.parseFile(new File(flags.get("config").orElseThrow())))
        .withFallback(ConfigFactory.load()).resolve();
    if (flags.has("resume")) {
      config = config.withValue("dsparse.job.resume-from", ConfigValueFactory.fromAnyRef(flags.get("resume").get()));
    }
    DsparseNode node = DsparseNode.startCoordinator(NodeConfig.node(config, "coordinator",
        flags.get("host", ShapedLinks.COORDINATOR_HOST), 0, List.of(), "1GiB", false));
    node.join(flags.get("seed").orElseThrow());
    node.awaitUp(Duration.ofSeconds(60));
    Gson gson = new GsonBuilder().serializeSpecialFloatingPointValues().create();
    JobEvent end = node.submit(JobConfig.read(config), event -> {
      JsonObject line = new JsonObject();
      line.addProperty("type", event.getClass().getSimpleName());
      line.addProperty("atMillis", System.currentTimeMillis());
      line.add("event", gson.toJsonTree(event));
      synchronized (System.out) {
        System.out.println(EVENT + gson.toJson(line));
        System.out.flush();
      }
    }).get();
    node.close();
    System.exit(end instanceof JobEvent.Succeeded ? 0 : 1);
  }
}
