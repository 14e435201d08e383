"""What people do in the war room: the incident commander's decision, notes, handover."""
