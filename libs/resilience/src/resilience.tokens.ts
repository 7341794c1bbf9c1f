export const POLICY_CATALOGUE = Symbol('POLICY_CATALOGUE');
export const RESILIENT_POLICY = Symbol('@Resilient');
