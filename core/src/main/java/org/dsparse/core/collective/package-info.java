/**
 * Pure schedule math for the collectives a process group runs: how a flat float buffer is cut into
 * per-rank parts and wire-sized chunks ({@link org.dsparse.core.collective.ChunkLayout}), which chunk
 * a rank sends and receives at each step of a chunked ring AllReduce
 * ({@link org.dsparse.core.collective.RingAllReduceSchedule}) or a pipelined chain Broadcast
 * ({@link org.dsparse.core.collective.ChainBroadcastSchedule}), and the bookkeeping that rejects
 * duplicate or out-of-schedule chunks ({@link org.dsparse.core.collective.ReceiveLedger}).
 *
 * <p>Nothing here knows about actors or the network: a schedule only answers "what next", so the same
 * math drives the Pekko transport and the in-memory simulation the tests use.
 */
package org.dsparse.core.collective;
