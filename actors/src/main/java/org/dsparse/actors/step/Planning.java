package org.dsparse.actors.step;

import java.util.List;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.memory.MemoryModel;
import org.dsparse.core.memory.OptimizerKind;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.LayeredModel;

/**
 * What a mode plans a job from, on the coordinator.
 *
 * @param devices the job's devices as they are now, with their budgets
 * @param source the job's data, {@code sample} its test split and {@code data} that sample as
 *     batches at the job's image size
 * @param model the job's model at its starting weights (the initial checkpoint's when it names one)
 * @param memory the memory model of the job's devices for that model
 */
public record Planning(JobSpec spec, List<DeviceInfo> devices, DataSource source, ImageSet sample,
    ImageSetDataset data, LayeredModel model, MemoryModel memory, OptimizerKind optimizer) {}
