/**
 * Where a job's training mode is chosen, once: {@link org.dsparse.actors.mode.TrainingModes}. The
 * modes live in the sub-packages, each with its planning, its device runtime and its step:
 * {@code dataparallel} (the full update and DSparse), {@code tiles} (DSparse with a tile group) and
 * {@code submodels} (heterogeneous sub-models). A new mode is a new sub-package implementing
 * {@code org.dsparse.actors.step.TrainingMode}, and one case here.
 */
package org.dsparse.actors.mode;
