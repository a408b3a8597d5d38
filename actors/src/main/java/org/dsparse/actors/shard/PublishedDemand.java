package org.dsparse.actors.shard;

import org.dsparse.core.placement.ShardDemand;
import org.dsparse.protocol.control.ControlMessage;

/** A {@link ShardDemand} as replicated by the {@link DeviceDirectory}; the wrapper gives it a wire format. */
public record PublishedDemand(ShardDemand demand) implements ControlMessage {}
