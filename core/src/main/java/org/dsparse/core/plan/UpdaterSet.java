package org.dsparse.core.plan;

import java.util.List;

/** The devices that update a layer (or channel slice), sorted by name: the key of a process group. */
public record UpdaterSet(List<String> devices) implements Comparable<UpdaterSet> {
  public UpdaterSet {
    devices = List.copyOf(devices);
    if (devices.isEmpty()) {
      throw new IllegalArgumentException("an updater set needs at least one device");
    }
    for (int i = 1; i < devices.size(); i++) {
      if (devices.get(i - 1).compareTo(devices.get(i)) >= 0) {
        throw new IllegalArgumentException("updater set must be sorted and distinct: " + devices);
      }
    }
  }

  public int size() {
    return devices.size();
  }

  public boolean contains(String device) {
    return devices.contains(device);
  }

  /** True if the two sets share no device, so their collectives can run at the same time. */
  public boolean isDisjointFrom(UpdaterSet other) {
    return devices.stream().noneMatch(other::contains);
  }

  @Override
  public int compareTo(UpdaterSet other) {
    for (int i = 0; i < Math.min(size(), other.size()); i++) {
      int c = devices.get(i).compareTo(other.devices.get(i));
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(size(), other.size());
  }

  @Override
  public String toString() {
    return "{" + String.join(",", devices) + "}";
  }
}
