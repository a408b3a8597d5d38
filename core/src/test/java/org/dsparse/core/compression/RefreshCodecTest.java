package org.dsparse.core.compression;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * Compressed refreshes: the receivers' copy stays the sender's bit for bit, it converges to the
 * weights, a corrupted copy is caught by the checksum and an exact re-sync makes it the sender's again.
 */
class RefreshCodecTest {
  static RefreshCodec.Settings[] settings() {
    return new RefreshCodec.Settings[] {
        new RefreshCodec.Settings(RefreshCodec.Kind.TOPK, 20, 8),
        new RefreshCodec.Settings(RefreshCodec.Kind.QUANTIZE, 1, 8),
        new RefreshCodec.Settings(RefreshCodec.Kind.QUANTIZE, 1, 4)};
  }

  private static float[] random(Random r, int n, float scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian() * scale;
    }
    return v;
  }

  private static double distance(float[] a, float[] b) {
    double sum = 0;
    for (int i = 0; i < a.length; i++) {
      sum += (a[i] - b[i]) * (double) (a[i] - b[i]);
    }
    return Math.sqrt(sum);
  }

  @ParameterizedTest
  @MethodSource("settings")
  void theReceiversCopyIsTheSendersBitForBitAfterEveryRefresh(RefreshCodec.Settings s) {
    Random r = new Random(7);
    int n = 1000;
    float[] weights = random(r, n, 1f);
    RefreshCodec sender = new RefreshCodec(s, weights);
    float[] receiver = weights.clone();
    for (int step = 0; step < 30; step++) {
      float[] update = random(r, n, 0.01f);
      for (int i = 0; i < n; i++) {
        weights[i] -= update[i];
      }
      float[] payload = sender.encode(weights);
      assertEquals(s.payloadLength(n), payload.length);
      for (float f : payload) {
        assertTrue(Float.isFinite(f), "every payload float is finite, whatever a transport does with NaNs");
      }
      assertTrue(RefreshCodec.receive(s, receiver, payload), "step " + step + ": the checksum matches");
      assertArrayEquals(sender.copy(), receiver, "step " + step);
    }
    assertTrue(distance(weights, receiver) > 0, "compressed: the copy lags the weights");
  }

  @ParameterizedTest
  @MethodSource("settings")
  void theCopyConvergesToWeightsThatStopMoving(RefreshCodec.Settings s) {
    Random r = new Random(11);
    int n = 1000;
    float[] start = random(r, n, 1f);
    float[] weights = start.clone();
    float[] change = random(r, n, 0.1f);
    for (int i = 0; i < n; i++) {
      weights[i] += change[i];
    }
    RefreshCodec sender = new RefreshCodec(s, start);
    float[] receiver = start.clone();
    double first = distance(weights, receiver);
    for (int refresh = 0; refresh < 60; refresh++) {
      RefreshCodec.receive(s, receiver, sender.encode(weights));
    }
    double left = distance(weights, receiver);
    if (s.kind() == RefreshCodec.Kind.TOPK) {
      // 25 coordinates a refresh: after 40 refreshes every coordinate was sent its final value.
      assertArrayEquals(weights, receiver);
    } else {
      assertTrue(left < 1e-6 * first, "error feedback sends what rounding left: " + left + " of " + first);
    }
  }

  @ParameterizedTest
  @MethodSource("settings")
  void aCorruptedCopyIsCaughtAndAnExactResyncRepairsIt(RefreshCodec.Settings s) {
    Random r = new Random(3);
    int n = 700;
    float[] weights = random(r, n, 1f);
    RefreshCodec sender = new RefreshCodec(s, weights);
    float[] receiver = weights.clone();
    receiver[123] += 1e-3f;
    weights[5] += 0.5f;
    assertFalse(RefreshCodec.receive(s, receiver, sender.encode(weights)), "a copy that is not the sender's");
    // The job's answer: the weights sent whole, which both sides take as the copy.
    receiver = weights.clone();
    sender.resync(weights);
    weights[9] -= 0.25f;
    assertTrue(RefreshCodec.receive(s, receiver, sender.encode(weights)));
    assertArrayEquals(sender.copy(), receiver);
  }

  @Test
  void payloadsAreAsSmallAsTheSettingsSay() {
    int n = 1_000_000;
    assertEquals(4 + 2 * 25_000, new RefreshCodec.Settings(RefreshCodec.Kind.TOPK, 20, 8).payloadLength(n));
    // 8 bits: a quarter of the floats, and a scale per 256 coordinates.
    assertEquals(4 + 3907 + 250_000, new RefreshCodec.Settings(RefreshCodec.Kind.QUANTIZE, 1, 8).payloadLength(n));
    assertEquals(4 + 3907 + 125_000, new RefreshCodec.Settings(RefreshCodec.Kind.QUANTIZE, 1, 4).payloadLength(n));
    assertEquals(4 + 2, new RefreshCodec.Settings(RefreshCodec.Kind.TOPK, 20, 8).payloadLength(1), "at least one");
  }

  @Test
  void aPayloadOfTheWrongSizeOrAnIndexOutsideTheCopyIsRefused() {
    RefreshCodec.Settings s = new RefreshCodec.Settings(RefreshCodec.Kind.TOPK, 4, 8);
    float[] copy = new float[16];
    assertThrows(IllegalArgumentException.class, () -> RefreshCodec.receive(s, copy, new float[5]));
    float[] payload = new RefreshCodec(s, copy).encode(random(new Random(1), 16, 1f));
    payload[4] = Float.intBitsToFloat(99);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RefreshCodec.receive(s, copy.clone(), payload));
    assertTrue(e.getMessage().contains("coordinate 99"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new RefreshCodec.Settings(RefreshCodec.Kind.QUANTIZE, 1, 6));
    assertThrows(IllegalArgumentException.class, () -> new RefreshCodec.Settings(RefreshCodec.Kind.TOPK, 1, 8));
  }
}
