-- A turn's own settings, as it was asked: {"system", "params": {"temperature", "max_tokens",
-- "reasoning"}, "provider_params": {provider: {...}}}; NULL when it set none. A retry of the
-- turn's answers reuses them.
ALTER TABLE turns ADD COLUMN settings jsonb;
