-- How many machines the client says it has (issue 14, the report's coverage): the audit report
-- compares it with the machines that run an agent, and a verdict over fewer machines than
-- declared says it is limited. NULL: nobody recorded it.
ALTER TABLE organizations ADD COLUMN declared_hosts INTEGER
  CONSTRAINT organizations_declared_hosts
  CHECK (declared_hosts IS NULL OR (declared_hosts >= 0 AND declared_hosts <= 1000000));
