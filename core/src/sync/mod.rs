//! Moving packages between the terminal and the outside world. This issue-3 slice
//! has the exchange-folder transport ([`folder`]); HTTP comes next.

pub mod folder;
