//! The PBX model (endpoints, trunks, AMI users, global policy), secrets, the Asterisk renderers and the Asterisk config parser.
