package org.dsparse.training.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import java.util.List;
import org.dsparse.training.trainer.DjlThread;
import org.junit.jupiter.api.Test;

class ChannelSliceTest {

  @Test
  void aSliceTakesItsChannelsRowsOfEveryTensor() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", new Shape(1, 12, 12), 4, 1)) {
        // conv2: a 32x16x3x3 convolution, then BatchNorm's gamma, beta, mean and variance of 32.
        assertEquals(32, model.layer(1).outputChannels());
        List<ChannelSlice> first = List.of(new ChannelSlice(1, 0, 8));
        assertEquals(8 * 16 * 9 + 8 + 8, model.trainableLength(first));
        assertEquals(8 + 8, model.bufferLength(first));
        assertEquals(8 * 16 * 9 + 4 * 8, model.weightLength(first));
        float[] whole = model.exportWeights(new int[] {1});
        float[] slice = model.exportWeights(first);
        // Tensor by tensor, the slice's floats are the first rows of each whole tensor.
        int wholeOffset = 0;
        int sliceOffset = 0;
        for (Parameter p : model.layer(1).tensors()) {
          int rows = (int) p.getArray().getShape().get(0);
          int rowElements = (int) (p.getArray().size() / rows);
          for (int i = 0; i < 8 * rowElements; i++) {
            assertEquals(whole[wholeOffset + i], slice[sliceOffset + i], 0f, p.getName() + " element " + i);
          }
          wholeOffset += rows * rowElements;
          sliceOffset += 8 * rowElements;
        }
        assertEquals(slice.length, sliceOffset);
      }
    });
  }

  @Test
  void importingASliceChangesExactlyItsRows() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("small-cnn", new Shape(1, 12, 12), 4, 2)) {
        List<ChannelSlice> middle = List.of(new ChannelSlice(2, 10, 40));
        List<ChannelSlice> rest = List.of(new ChannelSlice(2, 0, 10), new ChannelSlice(2, 40, 64));
        float[] restBefore = model.exportWeights(rest);
        float[] changed = model.exportWeights(middle);
        for (int i = 0; i < changed.length; i++) {
          changed[i] += 1 + i;
        }
        model.importWeights(middle, changed);
        assertArrayEquals(changed, model.exportWeights(middle));
        assertArrayEquals(restBefore, model.exportWeights(rest));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> model.importWeights(middle, new float[changed.length - 1]));
        assertTrue(e.getMessage().contains("need " + changed.length), e.getMessage());
      }
    });
  }

  @Test
  void slicesThatPartitionTheChannelsPartitionEveryTensorOfACompositeLayer() {
    DjlThread.run(() -> {
      try (LayeredModel model = Models.create("mobilenetv2", new Shape(3, 32, 32), 10, 1)) {
        // ir2 expands 16 to 96 channels, filters them depthwise and projects to 24: tensors of 96 and
        // of 24 rows split in proportion.
        Layer ir2 = model.layer(2);
        assertEquals(24, ir2.outputChannels());
        int[] cuts = {0, 5, 11, 24};
        long total = 0;
        for (Parameter p : ir2.tensors()) {
          long next = 0;
          for (int c = 0; c + 1 < cuts.length; c++) {
            RowRange r = ir2.rows(p, cuts[c], cuts[c + 1]);
            assertEquals(next, r.from(), p.getName());
            next = r.to();
          }
          assertEquals(p.getArray().getShape().dimension() == 0 ? 1 : p.getArray().getShape().get(0), next);
        }
        for (int c = 0; c + 1 < cuts.length; c++) {
          total += model.weightLength(List.of(new ChannelSlice(2, cuts[c], cuts[c + 1])));
        }
        assertEquals(model.weightLength(new int[] {2}), total);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> model.weightLength(List.of(new ChannelSlice(2, 20, 25))));
        assertTrue(e.getMessage().contains("ir2") && e.getMessage().contains("24 output channels"),
            e.getMessage());
      }
    });
  }
}
