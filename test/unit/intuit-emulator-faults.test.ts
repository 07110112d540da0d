import { FaultSwitches } from '../../local/intuit-emulator/faults';

describe('FaultSwitches', () => {
  describe('given a token fault scoped to one grant type', () => {
    it('applies only to requests of that grant type and spends its times only on them', () => {
      const faults = new FaultSwitches();
      faults.setTokenFault({ mode: 'status503', times: 2, grantType: 'refresh_token' });

      const taken = [
        'authorization_code',
        'refresh_token',
        '',
        'authorization_code',
        'refresh_token',
        'refresh_token',
      ].map((grantType) => faults.takeTokenFault(grantType)?.mode ?? null);

      expect(taken).toEqual([null, 'status503', null, null, 'status503', null]);
    });

    it('applies to every grant type when it names none', () => {
      const faults = new FaultSwitches();
      faults.setTokenFault({ mode: 'hang' });

      expect(faults.takeTokenFault('authorization_code')?.mode).toBe('hang');
      expect(faults.takeTokenFault('refresh_token')?.mode).toBe('hang');
      expect(faults.takeTokenFault('')?.mode).toBe('hang');
    });
  });

  describe('given a revocation fault', () => {
    it('affects only that many revocations, then clears itself', () => {
      const faults = new FaultSwitches();
      faults.setRevokeFault({ mode: 'status400-empty', times: 1 });

      expect(faults.takeRevokeFault()?.mode).toBe('status400-empty');
      expect(faults.takeRevokeFault()).toBeNull();
    });

    it('keeps its latency; clearRevokeFault() clears it alone and clearAll() clears every switch', () => {
      const faults = new FaultSwitches();
      faults.setRevokeFault({ mode: 'latency', latencyMs: 40 });
      faults.setTokenFault({ mode: 'status500' });
      expect(faults.takeRevokeFault()).toMatchObject({ mode: 'latency', latencyMs: 40 });

      faults.clearRevokeFault();
      expect(faults.takeRevokeFault()).toBeNull();
      expect(faults.takeTokenFault('refresh_token')?.mode).toBe('status500');

      faults.setRevokeFault({ mode: 'hang' });
      faults.setCompanyInfoFault({ mode: 'reset' });
      faults.clearAll();
      expect([
        faults.takeRevokeFault(),
        faults.takeTokenFault('refresh_token'),
        faults.takeCompanyInfoFault(),
      ]).toEqual([null, null, null]);
    });

    it('is not armed by mode none or by times 0', () => {
      const faults = new FaultSwitches();
      faults.setRevokeFault({ mode: 'none' });
      expect(faults.takeRevokeFault()).toBeNull();
      faults.setRevokeFault({ mode: 'status500', times: 0 });
      expect(faults.takeRevokeFault()).toBeNull();
    });
  });
});
