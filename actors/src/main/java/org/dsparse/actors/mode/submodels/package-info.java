/**
 * Heterogeneous class-subset sub-models (Chen and Qin 2020,
 * {@link org.dsparse.actors.mode.submodels.SubModelsMode}): the plan of each device's sub-model
 * ({@link org.dsparse.actors.mode.submodels.SubModelPlanning}), its runtime and its step
 * ({@link org.dsparse.actors.mode.submodels.SubModelStep}: train alone, assemble and calibrate the
 * global model together).
 */
package org.dsparse.actors.mode.submodels;
