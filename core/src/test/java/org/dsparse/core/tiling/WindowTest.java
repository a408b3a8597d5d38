package org.dsparse.core.tiling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class WindowTest {
  /** Every window of kernel 1-5, stride 1-3, padding 0-2, dilation 1-3 on inputs of 5-17, every output span. */
  @Test
  void aTileHoldsExactlyTheInputsItsOutputsReadAndPadsTheRest() {
    int checked = 0;
    for (int kernel = 1; kernel <= 5; kernel++) {
      for (int stride = 1; stride <= 3; stride++) {
        for (int padding = 0; padding <= 2; padding++) {
          for (int dilation = 1; dilation <= 3; dilation++) {
            Window w = new Window(kernel, stride, padding, dilation);
            for (int size = 5; size <= 17; size++) {
              if (size + 2 * padding < w.extent()) {
                continue;
              }
              int outputs = w.outputSize(size);
              assertEquals(bruteOutputSize(w, size), outputs, w + " on " + size);
              for (int from = 0; from < outputs; from++) {
                for (int to = from + 1; to <= outputs; to++) {
                  check(w, size, new Span(from, to));
                  checked++;
                }
              }
            }
          }
        }
      }
    }
    assertTrue(checked > 10_000, checked + " spans");
  }

  private static int bruteOutputSize(Window w, int size) {
    int o = 0;
    while (o * w.stride() - w.padding() + w.extent() - 1 <= size - 1 + w.padding()) {
      o++;
    }
    return o;
  }

  private static void check(Window w, int size, Span out) {
    // The first and last positions the outputs read, padding included; what lies between them that
    // a stride skips is held all the same (the tile's input stays one block).
    int first = Integer.MAX_VALUE;
    int last = Integer.MIN_VALUE;
    for (int o = out.from(); o < out.to(); o++) {
      for (int j = 0; j < w.kernel(); j++) {
        int i = o * w.stride() - w.padding() + j * w.dilation();
        first = Math.min(first, i);
        last = Math.max(last, i);
      }
    }
    Window.Need need = w.need(out, size);
    String what = w + " on " + size + ", outputs " + out;
    if (last < 0 || first >= size) {
      // Outputs that read padding alone (a padding as wide as the window): nothing held.
      assertTrue(need.held().isEmpty(), what);
      assertEquals(last - first + 1, need.padBefore() + need.padAfter(), what);
    } else {
      assertEquals(new Span(Math.max(0, first), Math.min(size, last + 1)), need.held(), what);
      assertEquals(Math.max(0, -first), need.padBefore(), what);
      assertEquals(Math.max(0, last + 1 - size), need.padAfter(), what);
    }
    // With the padding added, an unpadded window yields exactly the span's outputs.
    Window bare = new Window(w.kernel(), w.stride(), 0, w.dilation());
    assertEquals(out.length(), bare.outputSize(need.padBefore() + need.held().length() + need.padAfter()), what);
  }

  @Test
  void stridedAndPaddedHalosByHand() {
    // MobileNetV2's stem: 3x3, stride 2, padding 1 on 28 rows -> 14. Outputs [0, 7) read rows -1..13.
    Window stem = new Window(3, 2, 1, 1);
    assertEquals(14, stem.outputSize(28));
    assertEquals(new Window.Need(new Span(0, 14), 1, 0), stem.need(new Span(0, 7), 28));
    // Outputs [7, 14) read rows 13..27: row 13 is the halo shared with the first tile.
    assertEquals(new Window.Need(new Span(13, 28), 0, 0), stem.need(new Span(7, 14), 28));
    // A 3x3 with dilation 2 and padding 2 reads two rows either side.
    assertEquals(new Window.Need(new Span(3, 12), 0, 0), new Window(3, 1, 2, 2).need(new Span(5, 10), 20));
    // 2x2 pooling, stride 2: no halo at all.
    assertEquals(new Window.Need(new Span(6, 12), 0, 0), new Window(2, 2, 0, 1).need(new Span(3, 6), 15));
  }

  @Test
  void refusesWindowsThatDoNotFit() {
    assertThrows(IllegalArgumentException.class, () -> new Window(5, 1, 0, 1).outputSize(4));
    assertThrows(IllegalArgumentException.class, () -> new Window(0, 1, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> Span.split(3, 4));
  }
}
