package org.dsparse.protocol.job;

import java.util.List;
import org.dsparse.protocol.control.ControlMessage;

/**
 * One device's part of the plan.
 *
 * @param device its name
 * @param updatedLayers indices of the layers it updates, ascending
 * @param predictedPeakBytes the memory model's prediction for this update set
 */
public record Assignment(String device, List<Integer> updatedLayers, long predictedPeakBytes)
    implements ControlMessage {}
