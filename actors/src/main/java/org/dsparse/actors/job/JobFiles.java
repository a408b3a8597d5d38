package org.dsparse.actors.job;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.dsparse.core.cli.UsageException;
import org.dsparse.core.data.ImageSet;
import org.dsparse.core.data.Split;
import org.dsparse.protocol.job.JobSpec;
import org.dsparse.training.data.DataSource;
import org.dsparse.training.data.ImageSetDataset;
import org.dsparse.training.model.Checkpoint;
import org.dsparse.training.model.LayeredModel;
import org.dsparse.training.model.Models;
import org.dsparse.training.trainer.DjlThread;

/**
 * The files a job names, checked where it is submitted before that node joins anything: the dataset
 * (both splits read whole: magic numbers, counts, sizes), the initial checkpoint (read into the job's
 * model: format, checksum, shapes) and the directory it resumes from. The devices read their own
 * copies when the job reaches them and check them again; this catches what is wrong on the
 * submitting machine, usually the same files, before anyone waits on it. Each problem is one
 * {@link UsageException} naming the key and the file.
 */
public final class JobFiles {
  private JobFiles() {}

  public static void check(JobSpec spec) {
    DataSource source = DataSource.parse(spec.data(), "dsparse.job.data");
    ImageSet test = null;
    for (Split split : Split.values()) {
      try {
        ImageSet images = source.load(split);
        if (split == Split.TEST) {
          test = images;
        }
      } catch (RuntimeException e) {
        throw new UsageException("dsparse.job.data = '" + spec.data() + "': " + message(e));
      }
    }
    if (!spec.initialCheckpoint().isEmpty()) {
      checkCheckpoint(spec, source, test, Path.of(spec.initialCheckpoint()));
    }
    String resume = spec.resumeFrom();
    if (!resume.isEmpty() && !resume.equals(JobSpec.RESUME_FROM_DEVICES)) {
      Path dir = Path.of(resume);
      if (!Files.isDirectory(dir)) {
        throw new UsageException("dsparse.job.resume-from = '" + resume + "': no such directory");
      }
      try (Stream<Path> files = Files.list(dir)) {
        if (files.noneMatch(f -> f.getFileName().toString().endsWith(".ckpt"))) {
          throw new UsageException("dsparse.job.resume-from = '" + resume + "': holds no .ckpt file (a directory"
              + " such as checkpoint-dir/JOB/epoch-N)");
        }
      } catch (IOException e) {
        throw new UsageException("dsparse.job.resume-from = '" + resume + "': cannot list it: " + e.getMessage());
      }
    }
  }

  private static void checkCheckpoint(JobSpec spec, DataSource source, ImageSet test, Path path) {
    if (!Files.isRegularFile(path)) {
      throw new UsageException("dsparse.job.initial-checkpoint = '" + path + "': no such file");
    }
    try {
      DjlThread.call(() -> {
        ImageSetDataset data = ImageSetDataset.builder().setImageSet(test).optNormalization(source.normalization())
            .optUpsample(spec.upsample()).setSeededSampling(spec.batch(), spec.seed()).build();
        try (LayeredModel model = Models.create(spec.model(), data.imageShape(), test.classes(), spec.seed())) {
          Checkpoint.loadAtAnyResolution(model, path);
        }
        return null;
      });
    } catch (RuntimeException e) {
      throw new UsageException("dsparse.job.initial-checkpoint = '" + path + "': " + message(e));
    }
  }

  private static String message(Throwable e) {
    Throwable cause = e;
    while (cause.getCause() != null && (cause.getMessage() == null || cause instanceof IllegalStateException)) {
      cause = cause.getCause();
    }
    return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
  }
}
