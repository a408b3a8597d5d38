package org.dsparse.protocol.job;

import java.util.List;
import org.dsparse.protocol.control.ControlMessage;

/**
 * A device's place in the job's tile group: the devices that train the network's first layers
 * together, each on a spatial tile of the same batch (Rama et al.'s fused tiles). The head, the
 * first member, also runs the rest of the network on the tiles' gathered output and takes the tile
 * group's place in DSparse's plan; the others read the head's batches.
 *
 * @param groupId the plan's group of the tiled layers: its updaters are the members, and its
 *     AllReduce adds up their tiles' weight gradients
 * @param members the tile group in rank order, the head first; rank {@code r} computes tile {@code r}
 * @param groupEnds the fused groups of the tiled layers as their ends: group {@code g} is layers
 *     {@code [groupEnds[g - 1], groupEnds[g])} (from 0)
 * @param rows the tile grid's rows
 * @param columns its columns; {@code rows * columns} is the number of members
 */
public record TileRole(String groupId, List<String> members, List<Integer> groupEnds, int rows, int columns)
    implements ControlMessage {

  public TileRole {
    members = List.copyOf(members);
    groupEnds = List.copyOf(groupEnds);
    if (members.size() < 2 || rows * columns != members.size()) {
      throw new IllegalArgumentException("tile group " + groupId + ": a " + rows + "x" + columns + " grid for "
          + members.size() + " members " + members);
    }
    int previous = 0;
    for (int end : groupEnds) {
      if (end <= previous) {
        throw new IllegalArgumentException("tile group " + groupId + ": group ends " + groupEnds + " do not ascend");
      }
      previous = end;
    }
    if (groupEnds.isEmpty()) {
      throw new IllegalArgumentException("tile group " + groupId + " tiles no layer");
    }
  }

  /** The member that runs the rest of the network. */
  public String head() {
    return members.get(0);
  }

  /** How many of the first layers are tiled. */
  public int tiledLayers() {
    return groupEnds.get(groupEnds.size() - 1);
  }

  /** {@code device}'s rank in the tile group, or -1. */
  public int rank(String device) {
    return members.indexOf(device);
  }

  /** The process group that carries the tiles' halos, BatchNorm statistics and the gathered output. */
  public String exchangeId(String jobId) {
    return jobId + "." + groupId + ".tx";
  }
}
