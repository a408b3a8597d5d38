package org.dsparse.simulator;

import com.typesafe.config.Config;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.dsparse.actors.node.DsparseNode;
import org.dsparse.actors.node.NodeConfig;
import org.dsparse.training.profile.MeasuredJvm;

/**
 * One JVM per device on loopback, plus a coordinator node in this JVM: the deployment shape on one
 * machine. Each child's memory is its own, so its resident growth measures its training memory. A
 * child exits when this JVM closes its standard input (on close, or if this JVM dies).
 *
 * <p>With {@link ShapedLinks}, device {@code i} binds {@link ShapedLinks#host}{@code (i)} (Artery and
 * the collectives' data listeners), so tc shapes what it receives; the coordinator
 * stays on 127.0.0.1. {@link #linkBytesReceived()} is then what each device received on its link while this
 * cluster lived: tc's class counters read at start and again just before close, so it counts
 * TCP/IP headers and all cluster traffic (a ground truth beside the job's own counters). Without
 * shaped links everything binds 127.0.0.1 and it is empty.
 */
final class ProcessCluster implements AutoCloseable {
  static final String READY = "DSPARSE-DEVICE-READY ";
  /** Fixed and pre-touched, so Java heap never moves a child's resident size. */
  private static final String CHILD_HEAP = "512m";

  private final DsparseNode coordinator;
  private final List<Process> children;
  private final ShapedLinks links;
  private final Map<String, Long> linkBytesAtStart;
  private Map<String, Long> linkBytesReceived = Map.of();

  private ProcessCluster(DsparseNode coordinator, List<Process> children, ShapedLinks links,
      Map<String, Long> linkBytesAtStart) {
    this.coordinator = coordinator;
    this.children = children;
    this.links = links;
    this.linkBytesAtStart = linkBytesAtStart;
  }

  /**
   * Starts the coordinator node, then one child JVM per device, and waits until all are Up.
   *
   * @param links the installed shaped links, or null for all on 127.0.0.1
   */
  static ProcessCluster start(Config base, List<DeviceProfile> devices, List<Long> budgets, Duration timeout,
      ShapedLinks links) {
    Map<String, Long> linkBytesAtStart = links == null ? Map.of() : links.bytesReceived();
    DsparseNode coordinator = DsparseNode.startCoordinator(
        NodeConfig.node(base, "coordinator", ShapedLinks.COORDINATOR_HOST, 0, List.of(), "1GiB", false));
    List<Process> children = new ArrayList<>();
    try {
      coordinator.join(coordinator.address());
      coordinator.awaitUp(timeout);
      List<CompletableFuture<String>> ready = new ArrayList<>();
      for (int i = 0; i < devices.size(); i++) {
        String host = links == null ? ShapedLinks.COORDINATOR_HOST : ShapedLinks.host(i);
        Process child = launch(devices.get(i), budgets.get(i), coordinator.address(), host);
        children.add(child);
        ready.add(readyLine(child, devices.get(i).name()));
      }
      for (int i = 0; i < ready.size(); i++) {
        try {
          ready.get(i).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
          throw new IllegalStateException("device process " + devices.get(i).name()
              + " did not join within " + timeout + ": " + e.getMessage(), e);
        }
      }
      return new ProcessCluster(coordinator, children, links, linkBytesAtStart);
    } catch (RuntimeException e) {
      children.forEach(Process::destroyForcibly);
      coordinator.close();
      throw e;
    }
  }

  private static Process launch(DeviceProfile device, long budget, String seed, String host) {
    ProcessBuilder builder = MeasuredJvm.builder(CHILD_HEAP, DeviceProcess.class,
        List.of("--name", device.name(), "--budget", Long.toString(budget), "--seed", seed,
            "--compute-slowdown", Double.toString(device.computeSlowdown()), "--host", host));
    try {
      return builder.start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start the JVM of device " + device.name() + ": " + e.getMessage(), e);
    }
  }

  /** Completes with the child's address once it is Up; forwards the rest of its output, prefixed. */
  private static CompletableFuture<String> readyLine(Process child, String name) {
    CompletableFuture<String> ready = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(
          new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          if (line.startsWith(READY)) {
            ready.complete(line.substring(READY.length()));
          } else {
            System.err.println("[" + name + "] " + line);
          }
        }
      } catch (IOException e) {
        // The child is gone; its exit is reported below.
      }
      if (!ready.isDone()) {
        int code;
        try {
          code = child.waitFor();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          code = -1;
        }
        ready.completeExceptionally(new IllegalStateException("device " + name + " exited with code "
            + code + " before joining"));
      }
    }, "output-" + name);
    reader.setDaemon(true);
    reader.start();
    return ready;
  }

  DsparseNode coordinator() {
    return coordinator;
  }

  /** Bytes each device received on its link from start to close (read at close); empty when unshaped. */
  Map<String, Long> linkBytesReceived() {
    return linkBytesReceived;
  }

  @Override
  public void close() {
    if (links != null) {
      try {
        Map<String, Long> now = links.bytesReceived();
        Map<String, Long> received = new LinkedHashMap<>();
        now.forEach((device, bytes) -> received.put(device, bytes - linkBytesAtStart.getOrDefault(device, 0L)));
        linkBytesReceived = received;
      } catch (RuntimeException e) {
        System.err.println("simulator: link bytes not measured: " + e.getMessage());
      }
    }
    for (Process child : children) {
      try {
        child.getOutputStream().close();
      } catch (IOException e) {
        child.destroy();
      }
    }
    for (Process child : children) {
      try {
        if (!child.waitFor(20, TimeUnit.SECONDS)) {
          child.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        child.destroyForcibly();
      }
    }
    coordinator.close();
  }
}
