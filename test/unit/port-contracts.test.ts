/** The port contracts against the in-memory fakes the flow tests use. */
import { connectionStoreContract } from '../contract/connection-store.contract';
import { flowLedgerContract } from '../contract/flow-ledger.contract';
import { InMemoryFlowLedger } from './fakes/in-memory-flow-ledger';

const subject = async () => {
  const ledger = new InMemoryFlowLedger();
  return { ledger, connections: ledger.connectionStore };
};

flowLedgerContract('in-memory fake', subject);
connectionStoreContract('in-memory fake', subject);
