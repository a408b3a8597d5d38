/**
 * One dsparse node: an ActorSystem in the cluster running a Device, able to coordinate jobs
 * submitted on it. node-app, the simulator and the tests all start nodes through
 * {@link org.dsparse.actors.node.DsparseNode}.
 */
package org.dsparse.actors.node;
