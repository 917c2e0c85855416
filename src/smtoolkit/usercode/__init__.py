"""The user's code: fetching it (a folder, a tarball, s3://) with safe extraction, and installing its dependencies;
used by train, serve and local alike."""
