package org.dsparse.core.memory;

/**
 * One configuration's uncalibrated terms: {@code exactBytes} is known, the others are multiplied by
 * the coefficients being fitted. A measured peak {@code m} for this row gives the equation
 * {@code m - exactBytes = a*updatedActivationBytes + b*passThroughActivationBytes + c*transientBytes + d*training}.
 */
public record CalibrationRow(
    long exactBytes,
    double updatedActivationBytes,
    double passThroughActivationBytes,
    double transientBytes,
    double training) {}
