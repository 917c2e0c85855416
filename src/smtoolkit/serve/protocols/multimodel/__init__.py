"""Multi-model endpoints: many models in one container, loaded and unloaded by the platform at run time.

store (the state every worker shares, on disk), registry (one worker's loaded models, kept in step with the
store), loader (a model folder to a loaded InferenceHandler, with its own code and requirements), memory
(the budget and what a load costs), paging (the GET /models body). No transport here: the routes call these.
"""
