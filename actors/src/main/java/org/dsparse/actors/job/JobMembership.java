package org.dsparse.actors.job;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.slf4j.Logger;

/**
 * Who is in a job, for its coordinator: the job's devices in rank order (by name), the devices that
 * joined the cluster while it runs and wait to be adopted, and the addresses of those it lost; and
 * what the cluster's membership says of their nodes. A device outside the job is asked once to
 * describe itself (again after its node left or came back).
 */
final class JobMembership {
  private final ActorSystem<?> system;
  private final Logger log;
  private final String jobId;
  private final boolean adopts;
  private final ActorRef<DeviceEvent> replies;
  /** The job's devices by name, in rank order. */
  private final Map<String, DeviceInfo> devices = new LinkedHashMap<>();
  private final Map<String, DeviceInfo> joiners = new TreeMap<>();
  /** Devices asked to describe themselves. */
  private final Set<ActorRef<DeviceCommand>> described = new HashSet<>();
  /** The devices the receptionist lists now. */
  private Set<ActorRef<DeviceCommand>> listed = Set.of();
  private final Map<String, String> lostAddresses = new TreeMap<>();

  /** @param adopts whether devices that join the cluster are asked to describe themselves */
  JobMembership(ActorSystem<?> system, Logger log, String jobId, boolean adopts, ActorRef<DeviceEvent> replies) {
    this.system = system;
    this.log = log;
    this.jobId = jobId;
    this.adopts = adopts;
    this.replies = replies;
  }

  /** The job's devices by name, in rank order; the coordinator reads it. */
  Map<String, DeviceInfo> devices() {
    return devices;
  }

  /** The first devices of a job, described at discovery. */
  void start(Map<String, ActorRef<DeviceCommand>> chosen, List<DeviceInfo> describedDevices) {
    described.addAll(chosen.values());
    describedDevices.stream().sorted(Comparator.comparing(DeviceInfo::name)).forEach(d -> devices.put(d.name(), d));
  }

  /** The job device at {@code address}, or null. */
  String deviceAt(String address) {
    return devices.values().stream().filter(d -> d.address().equals(address)).map(DeviceInfo::name).findFirst()
        .orElse(null);
  }

  /** Drops a lost device from the job; answers whether it was in it. */
  boolean drop(String device) {
    DeviceInfo info = devices.remove(device);
    if (info != null) {
      lostAddresses.put(device, info.address());
    }
    return info != null;
  }

  boolean hasJoiners() {
    return !joiners.isEmpty();
  }

  List<String> joinerNames() {
    return List.copyOf(joiners.keySet());
  }

  /** Takes the devices waiting to join into the job, ranks re-ordered by name; answers their names. */
  List<String> adoptJoiners() {
    List<String> joined = List.copyOf(joiners.keySet());
    devices.putAll(joiners);
    joiners.clear();
    List<DeviceInfo> sorted = devices.values().stream().sorted(Comparator.comparing(DeviceInfo::name)).toList();
    devices.clear();
    sorted.forEach(d -> devices.put(d.name(), d));
    return joined;
  }

  /** A node outside the job changed: joining devices there are forgotten, or asked again when it is back. */
  void nodeChanged(String address, boolean lost) {
    if (lost) {
      joiners.values().removeIf(d -> d.address().equals(address));
    }
    described.removeIf(ref -> addressOf(ref).equals(address) && !inJob(ref));
    if (!lost) {
      askNewDevices();
    }
  }

  /** The receptionist's current list of devices. */
  void listed(Set<ActorRef<DeviceCommand>> refs) {
    listed = refs;
    askNewDevices();
  }

  /**
   * A device outside the job described itself: it waits to be adopted at the next committed step.
   * Answers its name when it is new, else null.
   */
  String described(DeviceEvent event) {
    if (!(event instanceof DeviceEvent.Described d) || devices.containsKey(d.device())) {
      return null;
    }
    if (joiners.put(d.device(), new DeviceInfo(d.device(), d.address(), d.budgetBytes(), d.self())) != null) {
      return null;
    }
    log.info("job {}: device {} ({}) joined the cluster; it is adopted at the next committed step", jobId,
        d.device(), d.address());
    return d.device();
  }

  /** Asks listed devices that are not in the job, and were not asked yet, to describe themselves. */
  private void askNewDevices() {
    if (!adopts || devices.isEmpty()) {
      return;
    }
    Set<String> unreachable = unreachable();
    for (ActorRef<DeviceCommand> ref : listed) {
      if (!inJob(ref) && !unreachable.contains(addressOf(ref)) && described.add(ref)) {
        ref.tell(new DeviceCommand.Describe(replies));
      }
    }
  }

  /** The job's devices whose nodes are unreachable or no longer Up (leaving, exiting, down). */
  List<String> departing() {
    Set<String> unreachable = unreachable();
    Set<String> up = new HashSet<>();
    for (var member : Cluster.get(system).state().getMembers()) {
      if (member.status() == MemberStatus.up() || member.status() == MemberStatus.weaklyUp()) {
        up.add(member.address().toString());
      }
    }
    List<String> departing = new ArrayList<>();
    devices.values().stream().filter(d -> !up.contains(d.address()) || unreachable.contains(d.address()))
        .forEach(d -> departing.add(d.name()));
    return departing;
  }

  /** Addresses of lost devices whose nodes are still members, unreachable or on their way out. */
  Set<String> lostNodesStillMembers() {
    Set<String> unreachable = unreachable();
    Set<String> leaving = new TreeSet<>();
    for (var member : Cluster.get(system).state().getMembers()) {
      String address = member.address().toString();
      boolean notUp = member.status() != MemberStatus.up() && member.status() != MemberStatus.weaklyUp();
      if (lostAddresses.containsValue(address) && (notUp || unreachable.contains(address))) {
        leaving.add(address);
      }
    }
    return leaving;
  }

  /** {@code reason} with every device address, of the job or lost, followed by the device's name. */
  String named(String reason) {
    for (DeviceInfo device : devices.values()) {
      reason = reason.replace(device.address(), "device " + device.name() + " (" + device.address() + ")");
    }
    for (var lost : lostAddresses.entrySet()) {
      reason = reason.replace(lost.getValue(), "device " + lost.getKey() + " (" + lost.getValue() + ")");
    }
    return reason;
  }

  private Set<String> unreachable() {
    Set<String> unreachable = new HashSet<>();
    Cluster.get(system).state().getUnreachable().forEach(m -> unreachable.add(m.address().toString()));
    return unreachable;
  }

  private boolean inJob(ActorRef<DeviceCommand> ref) {
    return devices.values().stream().anyMatch(d -> d.device().equals(ref));
  }

  private String addressOf(ActorRef<?> ref) {
    var address = ref.path().address();
    return address.hasGlobalScope() ? address.toString() : Cluster.get(system).selfMember().address().toString();
  }
}
