package org.dsparse.core.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class ReceiveLedgerTest {

  @Test
  void admitsEachExpectedTransferOnceAndRefusesTheRest() {
    var ledger = new ReceiveLedger(new RingAllReduceSchedule(2, 0, 8, 2));
    assertEquals(Optional.empty(), ledger.admit(new Transfer(0, 1)));
    assertEquals(Optional.of(ChunkRejection.DUPLICATE), ledger.admit(new Transfer(0, 1)));
    assertEquals(Optional.of(ChunkRejection.OUT_OF_SCHEDULE), ledger.admit(new Transfer(2, 0)));
    assertEquals(Optional.of(ChunkRejection.OUT_OF_SCHEDULE), ledger.admit(new Transfer(0, 2)));
    assertFalse(ledger.complete());
    ledger.admit(new Transfer(0, 0));
    ledger.admit(new Transfer(1, 0));
    ledger.admit(new Transfer(1, 1));
    assertTrue(ledger.complete());
  }

  @Test
  void theBroadcastOwnerExpectsNothing() {
    var ledger = new ReceiveLedger(new ChainBroadcastSchedule(3, 1, 1, 8, 2));
    assertTrue(ledger.complete());
    assertEquals(Optional.of(ChunkRejection.OUT_OF_SCHEDULE), ledger.admit(new Transfer(0, 0)));
  }
}
