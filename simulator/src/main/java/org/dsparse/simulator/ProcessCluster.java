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

/**
 * One JVM per device on loopback, plus a coordinator node in this JVM: the deployment shape on one
 * machine. Each child's memory is its own, so its resident growth measures its training memory. A
 * child exits when this JVM closes its standard input (on close, or if this JVM dies).
 *
 * <p>A device with a lab profile runs in cgroups of its own ({@link DeviceCgroup}): the kernel holds its
 * whole process to the profile's memory and CPU share, and {@link #labMeasures()} is what the kernel
 * charged it (its anonymous memory's peak) and whether its OOM killer acted.
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
  /** The device processes, those added while a job runs included. */
  private final List<Process> children;
  private final ShapedLinks links;
  private final Map<String, Long> linkBytesAtStart;
  private Map<String, Long> linkBytesReceived = Map.of();
  /** Lab devices' cgroups by device name, in device order; empty without lab profiles. */
  private final Map<String, DeviceCgroup> cgroups;
  private final String lab;
  /** What the devices' budgets left to the kernel's share of their groups. */
  private final long kernelReserve;
  private Map<String, LabMeasure> labMeasures = Map.of();
  private final Config config;

  private ProcessCluster(DsparseNode coordinator, List<Process> children, ShapedLinks links,
      Map<String, Long> linkBytesAtStart, Map<String, DeviceCgroup> cgroups, String lab, long kernelReserve,
      Config config) {
    this.config = config;
    this.coordinator = coordinator;
    this.children = new java.util.concurrent.CopyOnWriteArrayList<>(children);
    this.links = links;
    this.linkBytesAtStart = linkBytesAtStart;
    this.cgroups = cgroups;
    this.lab = lab;
    this.kernelReserve = kernelReserve;
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
    Map<String, DeviceCgroup> cgroups = new LinkedHashMap<>();
    String lab = "dsparse-lab-" + ProcessHandle.current().pid() + "-" + LABS.incrementAndGet();
    try {
      coordinator.join(coordinator.address());
      coordinator.awaitUp(timeout);
      List<CompletableFuture<String>> ready = new ArrayList<>();
      for (int i = 0; i < devices.size(); i++) {
        DeviceProfile device = devices.get(i);
        String host = links == null ? ShapedLinks.COORDINATOR_HOST : ShapedLinks.host(i);
        DeviceCgroup cgroup = device.lab().map(p -> DeviceCgroup.create(lab, device.name(), p)).orElse(null);
        if (cgroup != null) {
          cgroups.put(device.name(), cgroup);
        }
        Process child = launch(device, budgets.get(i), coordinator.address(), host, cgroup, base);
        children.add(child);
        ready.add(readyLine(child, device.name()));
        if (cgroup != null) {
          child.onExit().thenAccept(gone -> reportOomKill(cgroup, gone));
        }
      }
      for (int i = 0; i < ready.size(); i++) {
        try {
          ready.get(i).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
          throw new IllegalStateException("device process " + devices.get(i).name()
              + " did not join within " + timeout + ": " + e.getMessage(), e);
        }
        DeviceCgroup cgroup = cgroups.get(devices.get(i).name());
        if (cgroup != null) {
          cgroup.checkMember(children.get(i).pid());
        }
      }
      return new ProcessCluster(coordinator, children, links, linkBytesAtStart, cgroups, lab,
          LabMeasure.kernelReserve(base), base);
    } catch (RuntimeException e) {
      children.forEach(Process::destroyForcibly);
      cgroups.values().forEach(DeviceCgroup::close);
      if (!cgroups.isEmpty()) {
        DeviceCgroup.removeLab(lab);
      }
      coordinator.close();
      throw e;
    }
  }

  private static final java.util.concurrent.atomic.AtomicInteger LABS = new java.util.concurrent.atomic.AtomicInteger();

  /**
   * Starts one more device, the {@code index}th of the links installed (its address and shaped link),
   * in cgroups of its own when it has a lab profile, and waits until it is Up: a device that joins the
   * cluster, and a running job, later.
   */
  void add(DeviceProfile device, long budget, int index, Duration timeout) {
    String host = links == null ? ShapedLinks.COORDINATOR_HOST : ShapedLinks.host(index);
    DeviceCgroup cgroup;
    synchronized (cgroups) {
      cgroup = device.lab().map(p -> DeviceCgroup.create(lab, device.name(), p)).orElse(null);
      if (cgroup != null) {
        cgroups.put(device.name(), cgroup);
      }
    }
    Process child = launch(device, budget, coordinator.address(), host, cgroup, config);
    children.add(child);
    if (cgroup != null) {
      child.onExit().thenAccept(gone -> reportOomKill(cgroup, gone));
    }
    try {
      readyLine(child, device.name()).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("device process " + device.name() + " did not join within " + timeout + ": "
          + e.getMessage(), e);
    }
    if (cgroup != null) {
      cgroup.checkMember(child.pid());
    }
  }

  /**
   * A lab device's JVM takes the settings a node chooses from its RAM and finds its own budget; the
   * others a fixed, pre-touched heap and the budget given ({@link LabLaunch}).
   */
  private static Process launch(DeviceProfile device, long budget, String seed, String host, DeviceCgroup cgroup,
      Config base) {
    List<String> args = List.of("--name", device.name(), "--budget", LabLaunch.budget(cgroup, Long.toString(budget)),
        "--seed", seed, "--compute-slowdown", Double.toString(device.computeSlowdown()), "--host", host);
    ProcessBuilder builder = LabLaunch.builder(cgroup, CHILD_HEAP, DeviceProcess.class, args, base);
    try {
      return builder.start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start the JVM of device " + device.name() + ": " + e.getMessage(), e);
    }
  }

  /** One line when the kernel killed a lab device: the job will name it too, as a lost device. */
  private static void reportOomKill(DeviceCgroup cgroup, Process gone) {
    if (cgroup.oomKills() > 0) {
      System.err.println("lab: device " + cgroup.device() + " was killed by the kernel's OOM killer at its limit of "
          + (cgroup.profile().memoryLimitBytes() >> 20) + " MiB (" + cgroup.profile().name() + "), exit code "
          + gone.exitValue());
    }
  }

  /**
   * {@code reason} with the OOM kills of the lab devices it names, so that a job failed by a lost device
   * says that the kernel killed it at its limit.
   */
  String withOomKills(String reason) {
    StringBuilder out = new StringBuilder(reason);
    cgroups.forEach((name, cgroup) -> {
      if (cgroup.oomKills() > 0 && reason.contains("device " + name + " ")) {
        out.append("; device ").append(name).append(" was killed by the kernel's OOM killer at its limit of ")
            .append(cgroup.profile().memoryLimitBytes() >> 20).append(" MiB (").append(cgroup.profile().name())
            .append(')');
      }
    });
    return out.toString();
  }

  /** What the kernel charged each lab device; filled when the cluster closes, empty without a lab. */
  Map<String, LabMeasure> labMeasures() {
    return labMeasures;
  }

  /** The lab devices' cgroups by device name (empty without a lab). */
  Map<String, DeviceCgroup> cgroups() {
    return cgroups;
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
    Map<String, LabMeasure> measures = new LinkedHashMap<>();
    synchronized (cgroups) {
      cgroups.forEach((name, cgroup) -> measures.put(name, LabMeasure.of(cgroup, kernelReserve)));
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
    cgroups.values().forEach(DeviceCgroup::close);
    if (!cgroups.isEmpty()) {
      DeviceCgroup.removeLab(lab);
    }
    labMeasures = measures;
    coordinator.close();
  }
}
