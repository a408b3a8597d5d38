package org.dsparse.core.placement;

/**
 * A device as a candidate home.
 *
 * @param freeBytes its memory budget minus its predicted training peak and the weights of the
 *     shards it already hosts; negative when it is already over budget
 */
public record DeviceLoad(String device, long freeBytes) {
  public DeviceLoad {
    if (device == null || device.isBlank()) {
      throw new IllegalArgumentException("a device load needs a device name");
    }
  }

  /** The free bytes of a device with {@code budgetBytes}, {@code reservedBytes} for training and hosting {@code hostedBytes}. */
  public static DeviceLoad of(String device, long budgetBytes, long reservedBytes, long hostedBytes) {
    return new DeviceLoad(device, budgetBytes - reservedBytes - hostedBytes);
  }
}
