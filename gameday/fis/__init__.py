"""The fis injector: scenarios on a real account through AWS Fault Injection Service.

``template`` maps a scenario onto an experiment template, ``actions`` keeps the allow-list of
reversible actions, ``safety`` runs the real-account checks, ``lifecycle`` creates, starts,
follows, stops and deletes, ``importer`` turns existing templates into scenarios, and
``resilience_hub`` reads objective targets from resiliency policies.
"""
