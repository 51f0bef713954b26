"""The schedule's rules (POLICY.md): replay entries into state, produce findings. Pure."""
