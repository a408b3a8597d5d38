package org.dsparse.actors.shard;

import org.apache.pekko.actor.AddressFromURIString;
import org.dsparse.protocol.control.ControlMessage;

/**
 * A device as the {@link DeviceDirectory} knows it.
 *
 * @param device the device's name in the plan
 * @param address the cluster address of the node it runs on, as {@code Address.toString()} gives it
 * @param budgetBytes the device's memory budget
 * @param reservedBytes its predicted training peak under the plan; the rest of the budget may host shards
 */
public record DeviceEntry(String device, String address, long budgetBytes, long reservedBytes)
    implements ControlMessage {
  public DeviceEntry {
    if (device == null || device.isBlank()) {
      throw new IllegalArgumentException("a device entry needs a device name");
    }
    try {
      AddressFromURIString.parse(address);
    } catch (Exception e) { // parse throws MalformedURLException, undeclared
      throw new IllegalArgumentException("device " + device + ": '" + address + "' is not a cluster address");
    }
    if (budgetBytes < 0 || reservedBytes < 0) {
      throw new IllegalArgumentException("device " + device + ": budget and reserved bytes must not be negative, got "
          + budgetBytes + " and " + reservedBytes);
    }
  }
}
