package org.dsparse.actors.job;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.dsparse.actors.plan.PlannedJob;
import org.dsparse.core.collective.OverlapScheduler;
import org.dsparse.protocol.job.DeviceCommand;
import org.dsparse.protocol.job.DeviceEvent;
import org.dsparse.protocol.job.DeviceInfo;
import org.dsparse.protocol.job.GroupPlan;
import org.dsparse.protocol.job.JobSpec;

/**
 * What the job coordinator's phases hand from one to the next: each behaviour takes it as an
 * argument and none is kept in a field. A {@link Start} until the devices are prepared, then a
 * {@link Training}, and a {@link Recovery} while the job goes back to its committed step.
 */
sealed interface JobState {

  /** The job as this phase has it: as submitted, unless a refused checkpoint moved its resume folder. */
  JobSpec spec();

  /** The groups of the job's latest plan (none before the first): a failure retires their layer shards. */
  List<GroupPlan> placed();

  /** What trouble takes the job back from: its run once it trains; none before, when trouble fails the job. */
  Optional<Run> recoverable();

  /** How far training is: steps done in all, the epoch under way (from 0) and steps done in it. */
  record Position(long step, int epoch, int stepInEpoch) {}

  /** Before training: the job, and the groups of the plan being placed and prepared, if any. */
  record Start(JobSpec spec, List<GroupPlan> placed) implements JobState {
    public Start {
      placed = List.copyOf(placed);
    }

    @Override
    public Optional<Run> recoverable() {
      return Optional.empty();
    }
  }

  /**
   * What a job carries from plan to plan once it trains (or continues from its devices' state).
   *
   * @param incarnation set when the job continues from its devices' state: another coordinator ran it
   *     before, and its groups' names, whose registrations may linger, must not come back
   * @param generation re-plans so far: the plan's groups and shards are named after it
   * @param startedNanos when training started ({@code System.nanoTime}), for the time left
   * @param committed the last step every device completed with every layer refreshed: where a
   *     recovery goes back to
   * @param recoveriesWithoutProgress recoveries since a step was last committed
   * @param shards the groups of the plan that committed {@code committed}, whose layer shards hold it
   *     (their homes store it at its snapshot, or as they take their live model at a re-plan's
   *     Prepare): a joiner reads it there; none when no plan of this coordinator committed it
   */
  record Run(JobSpec spec, String incarnation, int generation, long startedNanos, Position at, Position committed,
      int recoveriesWithoutProgress, List<GroupPlan> shards) {
    public Run {
      shards = List.copyOf(shards);
    }

    /** What the current plan's group names start with: none for the first plan of a job. */
    String groupPrefix() {
      return incarnation + (generation > 0 ? "r" + generation + "." : "");
    }

    Run at(Position position) {
      return new Run(spec, incarnation, generation, startedNanos, position, committed, recoveriesWithoutProgress,
          shards);
    }

    Run troubled() {
      return new Run(spec, incarnation, generation, startedNanos, at, committed, recoveriesWithoutProgress + 1,
          shards);
    }

    Run replanned() {
      return new Run(spec, incarnation, generation + 1, startedNanos, at, committed, recoveriesWithoutProgress,
          shards);
    }
  }

  /**
   * A plan being trained.
   *
   * @param overlap where the devices cut each step's backward; it learns from each step's segment times
   * @param snapshotNext the next step asks the devices to keep a snapshot: the previous one was
   *     committed, or training (again) starts with it
   */
  record Training(Run run, PlannedJob plan, OverlapScheduler overlap, int stepsPerEpoch, boolean snapshotNext)
      implements JobState {

    @Override
    public JobSpec spec() {
      return run.spec();
    }

    /** The plan's groups, and those of an earlier plan whose shards still hold the committed step. */
    @Override
    public List<GroupPlan> placed() {
      return withCommitted(plan.groups(), run);
    }

    @Override
    public Optional<Run> recoverable() {
      return Optional.of(run);
    }

    Position at() {
      return run.at();
    }

    boolean lastOfEpoch() {
      return at().stepInEpoch() == stepsPerEpoch - 1;
    }

    boolean epochDone() {
      return at().stepInEpoch() >= stepsPerEpoch;
    }

    boolean atCommittedStep() {
      return run.committed().step() == at().step();
    }

    long totalSteps() {
      return (long) stepsPerEpoch * spec().epochs();
    }

    /** Every device completed the step; {@code committed} when each now holds every layer as it stands. */
    Training stepped(boolean committed) {
      Position next = new Position(at().step() + 1, at().epoch(), at().stepInEpoch() + 1);
      Run after = committed
          ? new Run(run.spec(), run.incarnation(), run.generation(), run.startedNanos(), next, next, 0, plan.groups())
          : run.at(next);
      return new Training(after, plan, overlap, stepsPerEpoch, committed);
    }

    /** The epoch is over: the next one starts, committed there if the epoch's last step was. */
    Training epochEnded() {
      Position next = new Position(at().step(), at().epoch() + 1, 0);
      Run after = atCommittedStep()
          ? new Run(run.spec(), run.incarnation(), run.generation(), run.startedNanos(), next, next,
              run.recoveriesWithoutProgress(), run.shards())
          : run.at(next);
      return new Training(after, plan, overlap, stepsPerEpoch, snapshotNext);
    }
  }

  /**
   * A recovery under way, once the devices left have said which states they hold.
   *
   * @param run the job's run; it trains again from {@code point}, its committed step
   * @param report what changed and how the job goes on, for the client and the job's report
   * @param point the state the devices continue from, and who holds it
   */
  record Recovery(Run run, List<GroupPlan> placed, JobReport.Recovery report, RestorePoint point)
      implements JobState {
    public Recovery {
      placed = List.copyOf(placed);
    }

    /** The latest plan's groups, and those whose shards hold the committed step. */
    @Override
    public List<GroupPlan> placed() {
      return withCommitted(placed, run);
    }

    /** The latest plan's groups whose shards hold nothing the recovery reads: a re-plan retires them. */
    List<GroupPlan> superseded() {
      return placed.stream().filter(g -> !run.shards().contains(g)).toList();
    }

    /** {@code device} took the state as {@code taken} says. */
    Recovery taking(String device, DeviceEvent.StateTaken taken) {
      return new Recovery(run, placed, report.taking(device, taken), point);
    }

    @Override
    public JobSpec spec() {
      return run.spec();
    }

    @Override
    public Optional<Run> recoverable() {
      return Optional.of(run);
    }

    /** Where training goes on: the restore point. */
    Position from() {
      return new Position(point.state().step(), point.state().epoch(), point.state().stepInEpoch());
    }

    Recovery losing(List<String> devices) {
      JobReport.Recovery lost = report;
      for (String device : devices) {
        lost = lost.losing(device);
      }
      return new Recovery(run, placed, lost, point);
    }

    Recovery adopting(List<String> devices) {
      return new Recovery(run, placed, report.adopting(devices), point);
    }

    Recovery replanned() {
      return new Recovery(run.replanned(), placed, report, point);
    }

    /** The recovery while {@code groups}, its new plan's, are placed and prepared. */
    Recovery placing(List<GroupPlan> groups) {
      return new Recovery(run, groups, report, point);
    }

    /**
     * A device was prepared from {@code prepared}'s step: a recovery that starts before the others
     * are has no steps past it to train again.
     */
    Recovery preparedAt(DeviceEvent.Prepared prepared) {
      Position at = new Position(prepared.step(), prepared.epoch(), run.at().stepInEpoch());
      return new Recovery(run.at(at), placed, report, point);
    }

    /**
     * Where the devices prepared for {@code plan} continue: the restore point, with the optimizer
     * state that survives the new plan, read from the layer shards that hold it when
     * {@code fromShards}. A recovery re-plans only while a holder of the point is left.
     */
    DeviceCommand.Restore restore(Map<String, DeviceInfo> devices, PlannedJob plan, boolean fromShards) {
      DeviceCommand.Restore from = point.restore(devices, fromShards ? shardsHolding(devices) : List.of())
          .orElseThrow(() -> new IllegalStateException("no device left holds the state after step "
              + point.state().step()));
      return from.keeping(point.keptOptimizerState(plan, from.source(), from.shards()));
    }

    /**
     * The shards that hold the restore point: those of the plan that committed it, when every one's
     * home holds the point and is still in the job (a lost home's shard comes back empty); else none.
     */
    private List<GroupPlan> shardsHolding(Map<String, DeviceInfo> devices) {
      boolean held = run.committed().step() == point.state().step() && !run.shards().isEmpty()
          && run.shards().stream().allMatch(g -> point.holders().contains(g.shardHome())
              && devices.containsKey(g.shardHome()));
      return held ? run.shards() : List.of();
    }
  }

  /** {@code groups} and {@code run}'s shards, each once. */
  private static List<GroupPlan> withCommitted(List<GroupPlan> groups, Run run) {
    return java.util.stream.Stream.concat(groups.stream(), run.shards().stream()).distinct().toList();
  }
}
