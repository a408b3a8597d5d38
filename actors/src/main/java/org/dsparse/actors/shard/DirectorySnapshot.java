package org.dsparse.actors.shard;

import java.util.Map;
import java.util.Optional;
import org.dsparse.core.placement.ShardDemand;

/** One replica's view of the {@link DeviceDirectory}: devices by name, demands by group id. */
public record DirectorySnapshot(Map<String, DeviceEntry> devices, Map<String, ShardDemand> demands) {
  public static final DirectorySnapshot EMPTY = new DirectorySnapshot(Map.of(), Map.of());

  public DirectorySnapshot {
    devices = Map.copyOf(devices);
    demands = Map.copyOf(demands);
  }

  /** The device announced at {@code address}; a node restarted under a new address announces anew. */
  public Optional<DeviceEntry> deviceAt(String address) {
    return devices.values().stream().filter(d -> d.address().equals(address)).findFirst();
  }

  public ShardDemand demandOf(String groupId) {
    return demands.getOrDefault(groupId, ShardDemand.unknown(groupId));
  }
}
