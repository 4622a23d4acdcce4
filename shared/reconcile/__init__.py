"""The reconciler: find pushes Bitbucket never delivered and feed them through the event path."""
