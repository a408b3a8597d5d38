package org.dsparse.training.model;

import ai.djl.basicmodelzoo.cv.classification.MobileNetV2;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The networks dsparse trains, split into layers. */
public final class Models {
  /** Names accepted by {@link #create}. */
  public static final List<String> NAMES = List.of("mobilenetv2", "small-cnn");

  private Models() {}

  /**
   * Builds and initialises a model by name with weights drawn from {@code seed}, so that every device
   * that builds the same model with the same seed starts from the same weights.
   */
  public static LayeredModel create(String modelName, Shape sampleShape, int classes, long seed) {
    if (sampleShape.dimension() != 3) {
      throw new IllegalArgumentException("sample shape must be CxHxW, got " + sampleShape);
    }
    Engine.getInstance().setRandomSeed((int) seed);
    NDManager manager = Engine.getInstance().newBaseManager();
    List<Layer> layers =
        switch (modelName.toLowerCase(Locale.ROOT)) {
          case "mobilenetv2" -> mobileNetV2Layers(classes, manager);
          case "small-cnn" -> smallCnnLayers(classes);
          default -> {
            manager.close();
            throw new IllegalArgumentException(
                "unknown model '" + modelName + "': expected one of " + NAMES);
          }
        };
    return new LayeredModel(modelName, sampleShape, classes, layers, manager);
  }

  /**
   * DJL's MobileNetV2 as 20 layers: the stem, each of the 17 inverted-residual blocks, the last 1x1
   * convolution and the classifier (pooling, 1x1 conv to the classes, flatten). Its ReLU6 blocks are
   * made safe under gradient recording ({@link GcSafeRelu6}).
   */
  static List<Layer> mobileNetV2Layers(int classes, NDManager manager) {
    Block net = MobileNetV2.builder().setOutSize(classes).build();
    GcSafeRelu6.install(net, manager);
    List<Block> parts = net.getChildren().values();
    // DJL's layout: [stem, 7 stages of inverted-residual blocks, last conv, pool, flatten?, conv, flatten]
    int stages = 7;
    List<Layer> layers = new ArrayList<>();
    layers.add(new Layer("stem", parts.get(0)));
    int block = 1;
    for (int s = 1; s <= stages; s++) {
      for (Block residual : parts.get(s).getChildren().values()) {
        layers.add(new Layer("ir" + block++, residual));
      }
    }
    layers.add(new Layer("conv_last", parts.get(stages + 1)));
    SequentialBlock classifier = new SequentialBlock();
    for (int i = stages + 2; i < parts.size(); i++) {
      classifier.add(parts.get(i));
    }
    layers.add(new Layer("classifier", classifier));
    return layers;
  }

  /** The small CNN's filters per convolution layer. */
  private static final int[] SMALL_CNN_WIDTHS = {16, 32, 64};

  /** Three conv-BN-ReLU layers and a linear classifier: a model that trains in seconds. */
  static List<Layer> smallCnnLayers(int classes) {
    return smallCnnLayers(SMALL_CNN_WIDTHS, classes);
  }

  private static List<Layer> smallCnnLayers(int[] widths, int classes) {
    return List.of(
        new Layer("conv1", convBnRelu(widths[0], true)),
        new Layer("conv2", convBnRelu(widths[1], true)),
        new Layer("conv3", convBnRelu(widths[2], false)),
        new Layer("classifier", new SequentialBlock()
            .add(Pool.globalAvgPool2dBlock())
            .add(Blocks.batchFlattenBlock())
            .add(Linear.builder().setUnits(classes).build())));
  }

  /** Whether {@link #narrow} builds narrower copies of the model: whether it has sub-models. */
  public static boolean hasNarrowForm(String modelName) {
    return modelName.equalsIgnoreCase("small-cnn");
  }

  /**
   * A narrower copy of a plain CNN (convolution layers, then a linear classifier): {@code widths}
   * filters in each convolution layer and {@code classes} outputs; a sub-model holds some of a full
   * model's filters and classes. Only the small CNN is plain among the models here.
   */
  public static LayeredModel narrow(String modelName, Shape sampleShape, int[] widths, int classes, long seed) {
    if (!hasNarrowForm(modelName)) {
      throw new IllegalArgumentException("model '" + modelName + "' has no narrow form: sub-models need a plain CNN"
          + " (convolution, BatchNorm, ReLU and pooling layers, then a linear classifier), e.g. small-cnn");
    }
    if (widths.length != SMALL_CNN_WIDTHS.length) {
      throw new IllegalArgumentException("small-cnn has " + SMALL_CNN_WIDTHS.length + " convolution layers, got "
          + widths.length + " widths");
    }
    for (int w : widths) {
      if (w < 1) {
        throw new IllegalArgumentException("a layer of a narrow model needs a filter, got widths "
            + java.util.Arrays.toString(widths));
      }
    }
    Engine.getInstance().setRandomSeed((int) seed);
    NDManager manager = Engine.getInstance().newBaseManager();
    return new LayeredModel(modelName.toLowerCase(Locale.ROOT), sampleShape, classes, smallCnnLayers(widths, classes),
        manager);
  }

  private static Block convBnRelu(int filters, boolean pool) {
    SequentialBlock block = new SequentialBlock()
        .add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1))
            .setFilters(filters).optBias(false).build())
        .add(BatchNorm.builder().build())
        .add(Activation.reluBlock());
    if (pool) {
      block.add(new MaxPool(2, 2));
    }
    return block;
  }
}
