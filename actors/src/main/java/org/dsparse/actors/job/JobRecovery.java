package org.dsparse.actors.job;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.dsparse.actors.job.JobCoordinator.Command;
import org.dsparse.actors.job.JobCoordinator.DeadlinePassed;
import org.dsparse.actors.job.JobCoordinator.DevicesListed;
import org.dsparse.actors.job.JobCoordinator.FromDevice;
import org.dsparse.actors.job.JobCoordinator.NodeChanged;
import org.dsparse.actors.job.JobCoordinator.SelfLeaving;
import org.dsparse.actors.job.JobState.Position;
import org.dsparse.actors.job.JobState.Recovery;
import org.dsparse.actors.job.JobState.Run;
import org.dsparse.actors.job.JobState.Start;
import org.dsparse.actors.job.JobState.Training;
import org.dsparse.actors.job.Waits.Wait;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;
import org.slf4j.Logger;

/**
 * The {@link JobCoordinator}'s behaviours while its job goes back to its committed step: the devices
 * left abandon what they were doing, the lost nodes are given time to leave the cluster, and the job
 * is planned again ({@link JobCoordinator}'s planning, handed a {@link Recovery}) for the devices left
 * and those that joined, or it pauses while no plan fits them. A job submitted with
 * {@code resume-from = devices} starts here too, from the state its devices hold.
 */
final class JobRecovery {
  private final JobCoordinator job;
  private final Logger log;
  private final String jobId;

  JobRecovery(JobCoordinator job, Logger log, String jobId) {
    this.job = job;
    this.log = log;
    this.jobId = jobId;
  }

  /**
   * {@code resume-from = devices}: the job's devices still hold its state (its coordinator was lost);
   * each says which, and the job goes on from the latest, re-planned for the devices there are now.
   * Devices without that state fetch the model from one that has it.
   */
  Behavior<Command> resumingFromDevices(JobSpec spec) {
    job.devices.values().forEach(d -> d.device().tell(new DeviceCommand.Abandon(jobId, job.replies)));
    Map<String, DeviceEvent.Abandoned> answers = new TreeMap<>();
    Wait wait = job.waits.start(job.elasticity.abandon(), job.devices.keySet());
    return job.awaitingDevices(wait, "collecting the devices' state", new Start(spec, List.of()), event -> {
      if (!(event instanceof DeviceEvent.Abandoned a) || !wait.heard(a.device())) {
        return Behaviors.same();
      }
      answers.put(a.device(), a);
      if (!wait.heardAll()) {
        return Behaviors.same();
      }
      var latest = RestorePoint.latest(answers.values());
      if (latest.isEmpty()) {
        return job.fail("no device holds a state of job " + jobId + " to resume from (resume-from = devices): "
            + "resume from a checkpoint directory instead", List.of());
      }
      RestorePoint point = latest.get();
      DeviceEvent.HeldState state = point.state();
      Position at = new Position(state.step(), state.epoch(), state.stepInEpoch());
      String incarnation = "c" + Long.toString(System.currentTimeMillis() % 2_176_782_336L, 36) + ".";
      Run run = new Run(spec, incarnation, 0, System.nanoTime(), at, at, 0, List.of());
      JobReport.Recovery report = new JobReport.Recovery("resumed from the state its devices hold", List.of(),
          List.of(), "submit", System.currentTimeMillis(), 0, at.step(), 0, List.of());
      log.info("job {}: resuming from the devices' state after step {} (epoch {}, {} steps into it), held "
          + "by {}", jobId, at.step(), state.epoch() + 1, state.stepInEpoch(), point.holders());
      return job.planning(new Recovery(run, List.of(), report, point));
    });
  }

  /**
   * Something went wrong while the job was at {@code phase}: with elasticity, and once training has
   * started, the job recovers without the {@code lost} devices (the abandon round finds any other
   * device that no longer answers); otherwise it fails.
   */
  Behavior<Command> trouble(String cause, String phase, List<String> lost, JobState state) {
    Optional<Run> recoverable = state.recoverable();
    if (!job.elasticity.enabled() || recoverable.isEmpty()) {
      return job.fail(cause, state.placed());
    }
    Run run = recoverable.get().troubled();
    if (run.recoveriesWithoutProgress() > job.elasticity.maxRecoveriesWithoutProgress()) {
      return job.fail(cause + " (the job recovered " + (run.recoveriesWithoutProgress() - 1)
          + " times in a row without committing a step)", state.placed());
    }
    return recover(job.membership.named(cause), phase, lost, run, state.placed());
  }

  /** Whether devices wait to join and the job may take them in (at a committed step). */
  boolean adoptsNow() {
    return job.elasticity.enabled() && job.membership.hasJoiners();
  }

  /** Takes the devices waiting to join in at this committed step. */
  Behavior<Command> adopting(String phase, Training training) {
    List<String> joining = job.membership.joinerNames();
    return recover("device" + (joining.size() > 1 ? "s " : " ") + String.join(", ", joining) + " joined",
        phase, List.of(), training.run(), training.placed());
  }

  private Behavior<Command> recover(String cause, String phase, List<String> lost, Run run, List<GroupPlan> placed) {
    lost.forEach(job.membership::drop);
    job.metrics.stepAbandoned();
    long committed = run.committed().step();
    long redone = run.at().step() - committed;
    JobReport.Recovery report = new JobReport.Recovery(cause, lost, List.of(), phase, System.currentTimeMillis(), 0,
        committed, redone, List.of());
    log.warn("job {}: {} during {}: going back to step {} ({} step{} to train again) with {}",
        jobId, cause, phase, committed, redone, redone == 1 ? "" : "s", job.devices.keySet());
    job.client.tell(new JobEvent.Recovering(jobId, report));
    return abandoning(run, placed, report);
  }

  /**
   * Every device left stops what it was doing and says which states it holds; a device that does not
   * answer within the abandon timeout is lost as well.
   */
  private Behavior<Command> abandoning(Run run, List<GroupPlan> placed, JobReport.Recovery report) {
    job.devices.values().forEach(d -> d.device().tell(new DeviceCommand.Abandon(jobId, job.replies)));
    Map<String, DeviceEvent.Abandoned> answers = new TreeMap<>();
    List<String> dropped = new ArrayList<>();
    Wait wait = job.waits.start(job.elasticity.abandon(), job.devices.keySet());
    return Behaviors.receive(Command.class)
        .onMessage(FromDevice.class, from -> {
          if (from.event() instanceof DeviceEvent.Abandoned a && wait.heard(a.device())) {
            answers.put(a.device(), a);
            return wait.heardAll() ? abandoned(run, placed, report, dropped, answers) : Behaviors.same();
          }
          job.noteJoiner(from.event());
          return Behaviors.same();
        })
        .onMessage(NodeChanged.class, changed -> {
          String device = job.jobDeviceAt(changed);
          if (device == null) {
            job.onMembership(changed);
            return Behaviors.same();
          }
          log.warn("job {}: device {} {} while the job abandoned its step", jobId, device, changed.how());
          drop(device, dropped);
          wait.heard(device);
          return wait.heardAll() ? abandoned(run, placed, report, dropped, answers) : Behaviors.same();
        })
        .onMessage(DevicesListed.class, job::onListing)
        .onMessage(DeadlinePassed.class, passed -> {
          if (!wait.endedBy(passed)) {
            return Behaviors.same();
          }
          log.warn("job {}: {} did not stop within {}: lost as well", jobId, wait.names(job.devices),
              job.elasticity.abandon());
          wait.awaited().forEach(device -> drop(device, dropped));
          return abandoned(run, placed, report, dropped, answers);
        })
        .onMessageEquals(SelfLeaving.INSTANCE, job::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /** The devices left have stopped and said which states they hold. */
  private Behavior<Command> abandoned(Run run, List<GroupPlan> placed, JobReport.Recovery report,
      List<String> dropped, Map<String, DeviceEvent.Abandoned> answers) {
    // A device may answer while its node is on its way out: it is lost all the same.
    for (String device : job.membership.departing()) {
      log.warn("job {}: device {} is leaving or unreachable: lost as well", jobId, device);
      drop(device, dropped);
    }
    answers.keySet().retainAll(job.devices.keySet());
    Position committed = run.committed();
    RestorePoint point = RestorePoint.at(new DeviceEvent.HeldState(committed.step(), committed.epoch(),
        committed.stepInEpoch(), List.of()), answers.values());
    if (point.holders().isEmpty()) {
      return job.fail(report.cause() + ", and no device left holds the job's state after step " + committed.step()
          + (job.metrics.checkpoints().isEmpty() ? "" : "; continue from the last checkpoint with submit --resume"),
          placed);
    }
    return awaitingRemoval(new Recovery(run, placed, report, point).losing(dropped));
  }

  /**
   * Gives the lost nodes that are unreachable or on their way out time to be removed from the
   * cluster (the split-brain resolver downs them), so that their layer shards move to the devices left
   * and the shard directory can be written again; then re-plans.
   */
  private Behavior<Command> awaitingRemoval(Recovery recovery) {
    Set<String> leaving = job.membership.lostNodesStillMembers();
    if (leaving.isEmpty()) {
      return replanning(recovery);
    }
    log.info("job {}: waiting up to {} for {} to leave the cluster", jobId, job.elasticity.removalWait(), leaving);
    List<String> dropped = new ArrayList<>();
    Wait wait = job.waits.start(job.elasticity.removalWait(), Set.of());
    return Behaviors.receive(Command.class)
        .onMessage(NodeChanged.class, changed -> {
          if (changed.how().equals("was removed from the cluster")) {
            leaving.remove(changed.address());
          }
          String device = job.jobDeviceAt(changed);
          if (device != null) {
            drop(device, dropped); // lost while waiting: re-plan without it too
          } else {
            job.onMembership(changed);
          }
          return leaving.isEmpty() ? replanning(recovery.losing(dropped)) : Behaviors.same();
        })
        .onMessage(FromDevice.class, from -> {
          job.noteJoiner(from.event());
          return Behaviors.same();
        })
        .onMessage(DevicesListed.class, job::onListing)
        .onMessage(DeadlinePassed.class, passed -> {
          if (!wait.endedBy(passed)) {
            return Behaviors.same();
          }
          log.warn("job {}: {} still in the cluster after {}; re-planning regardless", jobId, leaving,
              job.elasticity.removalWait());
          return replanning(recovery.losing(dropped));
        })
        .onMessageEquals(SelfLeaving.INSTANCE, job::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /** Plans again for the devices left and those waiting to join, from the committed step. */
  private Behavior<Command> replanning(Recovery lost) {
    Recovery recovery = lost.adopting(job.membership.adoptJoiners());
    if (recovery.point().restore(job.devices, List.of()).isEmpty()) {
      return job.fail(recovery.report().cause() + ", and every device holding the job's state after step "
          + recovery.run().committed().step() + " (" + recovery.point().holders() + ") was lost", recovery.placed());
    }
    // The shards holding the committed step stay until a step of the new plan is committed: the
    // devices that join read the model from them.
    job.retireShards(recovery.superseded());
    return job.planning(recovery.replanned());
  }

  /**
   * No plan fits the devices left: the job waits for devices to join (each one that does is tried),
   * and fails after the pause timeout.
   */
  Behavior<Command> paused(Recovery recovery, String reason) {
    String message = "paused: " + reason + "; waiting up to " + job.elasticity.pause()
        + " for more devices to join";
    log.error("job {} {}", jobId, message);
    job.client.tell(new JobEvent.Paused(jobId, message));
    List<String> dropped = new ArrayList<>();
    Wait wait = job.waits.start(job.elasticity.pause(), Set.of());
    return Behaviors.receive(Command.class)
        .onMessage(FromDevice.class, from -> {
          job.noteJoiner(from.event());
          return job.membership.hasJoiners() ? replanning(recovery.losing(dropped)) : Behaviors.same();
        })
        .onMessage(NodeChanged.class, changed -> {
          String device = job.jobDeviceAt(changed);
          if (device != null) {
            drop(device, dropped);
            if (recovery.point().restore(job.devices, List.of()).isEmpty()) {
              return job.fail("paused (" + reason + ") and then lost device " + device + ", the last holding the "
                  + "job's state", recovery.placed());
            }
          } else {
            job.onMembership(changed);
          }
          return Behaviors.same();
        })
        .onMessage(DevicesListed.class, job::onListing)
        .onMessage(DeadlinePassed.class, passed -> !wait.endedBy(passed) ? Behaviors.same()
            : job.fail("paused for " + job.elasticity.pause() + " and no device joined: " + reason,
                recovery.placed()))
        .onMessageEquals(SelfLeaving.INSTANCE, job::leaving)
        .onAnyMessage(other -> Behaviors.same())
        .build();
  }

  /** Drops a device lost during a recovery from the job; {@code dropped} collects it for the recovery's report. */
  private void drop(String device, List<String> dropped) {
    job.membership.drop(device);
    dropped.add(device);
  }
}
