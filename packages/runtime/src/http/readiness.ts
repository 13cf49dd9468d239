/** The answer of `/readyz` (docs/contract.md "HTTP"), also shown in `/api/overview`. */
export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
  /** High availability: `active`, `standby` (ready too, so that a rolling update goes on), or `starting`. */
  readonly role?: string;
}
