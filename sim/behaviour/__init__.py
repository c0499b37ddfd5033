"""The submodels a quarter runs: how firms, talent and links change (``sim.model`` calls them in order).

- ``market.py``      capacity, niche crowding, the local-share ceiling, market clearing
- ``innovation.py``  R&D, technology, patents, university and leader spillovers
- ``digital.py``     digital and intelligent transformation (智改数转): upgrades, grants, maturity
- ``finance.py``     profit, tax, credit, employment adjustment, exit
- ``entry.py``       new firms, anchors and their suppliers, repositioning, little-giant reviews
- ``labour.py``      graduation, jobs, migration, in-house training, retirement
- ``links.py``       supply links, 产学研 projects, the data-sharing centre
- ``sharing.py``     the resource-sharing platform (资源共享平台)
- ``energy.py``      the energy-level index (能级指数) and its tiers
- ``rules.py``       official rules on model quantities: the price level (nominal terms), the NBS
                     firm-size standard, the little-giant criteria and the records they read

Each works on the state's columns (``sim.state``) with numpy, given the model.
May import: ``sim.behaviour``, ``sim.state`` and ``sim.inputs``. Not ``sim.model`` / ``sim.scenario``
(they call the submodels), ``sim.policy`` or ``sim.outputs``.
"""
