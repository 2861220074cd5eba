-- Download and install an extension (issue 13).
INSTALL httpfs
