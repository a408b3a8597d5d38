package org.dsparse.simulator;

import com.google.gson.JsonObject;
import org.dsparse.core.lab.LabProfile;

/** The lab's profiles and kernel measures as every bench's JSON records them, in one shape. */
public final class LabJson {
  private LabJson() {}

  /** {@code name, board, memoryLimitBytes, cpuQuota} (cores), {@code link, relativeSpeed}. */
  public static JsonObject profile(LabProfile p) {
    JsonObject json = new JsonObject();
    json.addProperty("name", p.name());
    json.addProperty("board", p.board());
    json.addProperty("memoryLimitBytes", p.memoryLimitBytes());
    json.addProperty("cpuQuota", p.cpuCores());
    json.addProperty("link", p.linkBitsPerSecond() == 0 ? "loopback" : (p.linkBitsPerSecond() / 1_000_000) + "mbit");
    json.addProperty("relativeSpeed", p.relativeSpeed());
    return json;
  }

  /** What the kernel charged one lab device's process: {@code peakAnonymousBytes, oomKilled} and its profile. */
  public static JsonObject measure(LabMeasure m) {
    JsonObject json = new JsonObject();
    json.addProperty("process", m.device());
    json.addProperty("profile", m.profile());
    json.addProperty("memoryLimitBytes", m.memoryLimitBytes());
    json.addProperty("cpuQuota", m.cpuCores());
    json.addProperty("peakAnonymousBytes", m.peakAnonymousBytes());
    json.addProperty("oomKilled", m.oomKilled());
    return json;
  }
}
