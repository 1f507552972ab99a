"""AdminJobsFunction: the scheduled housekeeping jobs."""
