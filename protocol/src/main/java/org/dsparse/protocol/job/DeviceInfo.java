package org.dsparse.protocol.job;

import org.apache.pekko.actor.typed.ActorRef;
import org.dsparse.protocol.control.ControlMessage;

/**
 * A device as the coordinator knows it.
 *
 * @param name unique device name
 * @param address its node's cluster address ({@code pekko://system@host:port})
 * @param budgetBytes memory it may spend on training
 * @param device its Device actor
 */
public record DeviceInfo(String name, String address, long budgetBytes, ActorRef<DeviceCommand> device)
    implements ControlMessage {}
