//! `--profile`, `--username`, `--password` of the commands that connect clients of their own
//! to a broker (`mqttspec fuzz`, `mqttspec replay`): the credentials (and TLS options) of a
//! broker that refuses anonymous clients, read from the same profile file as
//! `mqttspec run --profile` with the same loader ([`load_profile`]).

use std::path::{Path, PathBuf};

use clap::Args;
use mqttspec_harness::profile::{Credentials, Profile};

/// The login arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct LoginArgs {
    /// Broker profile (TOML, as for `mqttspec run --profile`): its `[credentials]` are the
    /// User Name and Password of the CONNECTs, its `[tls]` the TLS options (flags win).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// User Name of the CONNECTs (instead of the profile's credentials).
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,
    /// Password of the CONNECTs (with --username).
    #[arg(long, value_name = "PASSWORD", requires = "username")]
    pub password: Option<String>,
}

/// Reads the profile file when one is given, else the empty profile (what
/// `mqttspec run --profile` does too).
pub fn load_profile(path: Option<&Path>) -> Result<Profile, String> {
    match path {
        Some(p) => Profile::load(p),
        None => Ok(Profile::default()),
    }
}

impl LoginArgs {
    /// The profile, and the credentials in force: `--username` / `--password` when given,
    /// else the profile's `[credentials]`.
    pub fn load(&self) -> Result<(Profile, Option<Credentials>), String> {
        let profile = load_profile(self.profile.as_deref())?;
        let credentials = match &self.username {
            Some(username) => Some(Credentials {
                username: username.clone(),
                password: self.password.clone(),
            }),
            None => profile.credentials.clone(),
        };
        Ok((profile, credentials))
    }

    /// The arguments as they would be repeated on a command line, the password hidden.
    pub fn command_line(&self) -> String {
        let mut s = String::new();
        if let Some(p) = &self.profile {
            s.push_str(&format!(" --profile {}", p.display()));
        }
        if let Some(u) = &self.username {
            s.push_str(&format!(" --username {u}"));
        }
        if self.password.is_some() {
            s.push_str(" --password (hidden)");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_profile_and_the_profile_is_read_once() {
        let dir = std::env::temp_dir().join(format!("mqttspec-login-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.toml");
        std::fs::write(&file, "[credentials]\nusername = \"u\"\npassword = \"p\"\n").unwrap();
        let mut args = LoginArgs {
            profile: Some(file.clone()),
            ..LoginArgs::default()
        };
        let (_, login) = args.load().unwrap();
        assert_eq!(
            login,
            Some(Credentials {
                username: "u".into(),
                password: Some("p".into())
            })
        );
        args.username = Some("v".into());
        let (profile, login) = args.load().unwrap();
        assert_eq!(profile.credentials.unwrap().username, "u");
        assert_eq!(
            login,
            Some(Credentials {
                username: "v".into(),
                password: None
            })
        );
        args.password = Some("secret".into());
        assert!(!args.command_line().contains("secret"));
        assert_eq!(LoginArgs::default().load().unwrap().1, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
