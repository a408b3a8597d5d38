package org.dsparse.core.tiling;

import java.util.List;

/**
 * A layer of the model (the unit DSparse plans and groups are cut between) as a chain of stages.
 * A residual block's skip path reads the block's input at its output positions, which its stages'
 * halo already holds, so it adds no stage.
 */
public record TiledLayer(String name, List<Stage> stages) {
  public TiledLayer {
    if (stages.isEmpty()) {
      throw new IllegalArgumentException("layer " + name + " has no spatial stage to tile");
    }
    stages = List.copyOf(stages);
  }

  public long weights() {
    return stages.stream().mapToLong(Stage::weights).sum();
  }
}
