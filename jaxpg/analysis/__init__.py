"""After training: statistics over seeds (``stats``), learning-curve figures
(``plotting``) and episode rendering (``render``)."""
