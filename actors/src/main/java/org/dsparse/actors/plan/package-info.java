/**
 * A job's plan as devices receive it ({@link org.dsparse.actors.plan.PlannedJob}), and what every
 * mode's plan is made of ({@link org.dsparse.actors.plan.Plans}: process groups, compression,
 * overlap, learning-rate scales, data shards; {@link org.dsparse.actors.plan.ClassPartitions}).
 * Plain values and functions: no actor, no mode, nothing else of the actors module.
 */
package org.dsparse.actors.plan;
